/*
 * remote_key.c — remote keys: a tiny OpenSSL 3 provider built into vouchd.
 *
 * A remote key is an EVP_PKEY whose key data is only (signer, tenant, key id,
 * public key).  Its signature operation collects the bytes OpenSSL wants
 * signed (the TBS structure) and sends them, with the digest name, to the
 * signer, which signs with the real key.  So X509_sign, X509_CRL_sign,
 * X509_REQ_sign and the other ASN1_item_sign users work unchanged while the
 * private key stays in the signer process.
 *
 * The algorithms have names of their own ("VOUCH-EC", "VOUCH-RSA",
 * "VOUCH-ED25519") so that fetches of "EC" or "RSA" never land here.  The
 * price: OpenSSL 3 compares keys of different key managers only when their
 * names match, so EVP_PKEY_eq(remote, ordinary) is -1 and
 * X509_check_private_key(ordinary certificate, remote) is 0.  The provider
 * therefore also encodes a remote key's SubjectPublicKeyInfo, which lets
 * signer_key_cert() make a certificate whose public key object is the remote
 * key itself (what OCSP_basic_sign's key check needs).
 *
 * Provider entry points are called by OpenSSL from any thread; a key's data
 * never changes after import, and each signature context has one user.
 */
#include "keys/signer_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#define PROVIDER_NAME "vouch-remote"
#define PROPS         "provider=" PROVIDER_NAME
#define PROPS_SPKI    PROPS ",output=der,structure=SubjectPublicKeyInfo"
#define REF_PARAM     "vouch-remote-ref"
#define REF_MAGIC     0x766f7563u

#define ALG_EC      "VOUCH-EC"
#define ALG_RSA     "VOUCH-RSA"
#define ALG_ED25519 "VOUCH-ED25519"

struct rkey {
    const char *alg;       /* one of the ALG_ names */
    struct signer *signer; /* a reference */
    char *tenant;
    char *key_id;
    EVP_PKEY *pub;
};

/* What remote_key_new hands to the import function through REF_PARAM. */
struct rkey_init {
    uint32_t magic;
    struct signer *signer;
    const char *tenant;
    const char *key_id;
    EVP_PKEY *pub;
};

static OSSL_FUNC_BIO_write_ex_fn *core_bio_write_ex;

/* Raises an OpenSSL error with a message (the caller's error queue shows it). */
#define remote_error(...) ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, __VA_ARGS__)

/* ---- key management ------------------------------------------------------ */

static struct rkey *rkey_new(const char *alg)
{
    struct rkey *k = xcalloc(1, sizeof(*k));
    k->alg = alg;
    return k;
}

static void *km_new_ec(void *provctx)
{
    (void)provctx;
    return rkey_new(ALG_EC);
}

static void *km_new_rsa(void *provctx)
{
    (void)provctx;
    return rkey_new(ALG_RSA);
}

static void *km_new_ed25519(void *provctx)
{
    (void)provctx;
    return rkey_new(ALG_ED25519);
}

static void km_free(void *keydata)
{
    struct rkey *k = keydata;

    if (k == NULL)
        return;
    free(k->tenant);
    free(k->key_id);
    EVP_PKEY_free(k->pub);
    if (k->signer != NULL)
        signer_unref(k->signer);
    free(k);
}

static int km_has(const void *keydata, int selection)
{
    const struct rkey *k = keydata;

    (void)selection; /* the private half exists, in the signer */
    return k != NULL && k->pub != NULL;
}

/* Two remote keys are equal when their public keys are. */
static int km_match(const void *keydata1, const void *keydata2, int selection)
{
    const struct rkey *a = keydata1, *b = keydata2;

    (void)selection;
    return a != NULL && b != NULL && a->pub != NULL && b->pub != NULL &&
           EVP_PKEY_eq(a->pub, b->pub) == 1;
}

/* Only remote_key_new's reference is accepted: no key can be made from bare numbers. */
static int km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
    struct rkey *k = keydata;
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, REF_PARAM);
    const struct rkey_init *init;

    (void)selection;
    if (k == NULL || k->pub != NULL || p == NULL || p->data_type != OSSL_PARAM_OCTET_STRING ||
        p->data_size != sizeof(init))
        return 0;
    memcpy(&init, p->data, sizeof(init));
    if (init == NULL || init->magic != REF_MAGIC || init->pub == NULL)
        return 0;
    signer_ref(init->signer);
    k->signer = init->signer;
    k->tenant = xstrdup(init->tenant);
    k->key_id = xstrdup(init->key_id);
    k->pub = init->pub;
    EVP_PKEY_up_ref(k->pub);
    return 1;
}

static const OSSL_PARAM *km_import_types(int selection)
{
    static const OSSL_PARAM types[] = {OSSL_PARAM_octet_string(REF_PARAM, NULL, 0), OSSL_PARAM_END};
    (void)selection;
    return types;
}

/* Exports the public half (as EVP_PKEY_todata gives it), never anything private. */
static int km_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
    struct rkey *k = keydata;
    OSSL_PARAM *params = NULL;
    int rc;

    if (k == NULL || k->pub == NULL ||
        (selection & (OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_ALL_PARAMETERS)) == 0 ||
        EVP_PKEY_todata(k->pub, EVP_PKEY_PUBLIC_KEY, &params) != 1)
        return 0;
    rc = cb(params, cbarg);
    OSSL_PARAM_free(params);
    return rc;
}

static const OSSL_PARAM *km_export_types_ec(int selection)
{
    static const OSSL_PARAM types[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)selection;
    return types;
}

static const OSSL_PARAM *km_export_types_rsa(int selection)
{
    static const OSSL_PARAM types[] = {
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)selection;
    return types;
}

static const OSSL_PARAM *km_export_types_ed25519(int selection)
{
    static const OSSL_PARAM types[] = {
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)selection;
    return types;
}

static int is_ed25519(const struct rkey *k)
{
    return k != NULL && strcmp(k->alg, ALG_ED25519) == 0;
}

/* The digest used when the caller names none: NULL for Ed25519 (it has none). */
static const char *default_digest(const struct rkey *k)
{
    if (is_ed25519(k))
        return NULL;
    if (k != NULL && strcmp(k->alg, ALG_EC) == 0 && EVP_PKEY_get_bits(k->pub) > 256)
        return "SHA384";
    return "SHA256";
}

/* Answers from the public key (bits, sizes, group...), with our digest defaults. */
static int km_get_params(void *keydata, OSSL_PARAM params[])
{
    struct rkey *k = keydata;
    const char *md = default_digest(k);
    OSSL_PARAM *p;

    if (k == NULL || k->pub == NULL || EVP_PKEY_get_params(k->pub, params) != 1)
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST)) != NULL && md != NULL &&
        !OSSL_PARAM_set_utf8_string(p, md))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MANDATORY_DIGEST)) != NULL &&
        is_ed25519(k) && !OSSL_PARAM_set_utf8_string(p, ""))
        return 0;
    return 1;
}

static const OSSL_PARAM *km_gettable_params(void *provctx)
{
    static const OSSL_PARAM list[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)provctx;
    return list;
}

static const char *km_opname_ec(int op)
{
    return op == OSSL_OP_SIGNATURE ? ALG_EC : NULL;
}

static const char *km_opname_rsa(int op)
{
    return op == OSSL_OP_SIGNATURE ? ALG_RSA : NULL;
}

static const char *km_opname_ed25519(int op)
{
    return op == OSSL_OP_SIGNATURE ? ALG_ED25519 : NULL;
}

#define KEYMGMT_FNS(newfn, opfn, exportfn)                                                         \
    {                                                                                              \
        {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))newfn},                                            \
            {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free},                                     \
            {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has},                                       \
            {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match},                                   \
            {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import},                                 \
            {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))km_import_types},                     \
            {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export},                                 \
            {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))exportfn},                            \
            {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params},                         \
            {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))km_gettable_params},               \
            {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))opfn}, {0, NULL},             \
    }

static const OSSL_DISPATCH km_ec[] = KEYMGMT_FNS(km_new_ec, km_opname_ec, km_export_types_ec);
static const OSSL_DISPATCH km_rsa[] = KEYMGMT_FNS(km_new_rsa, km_opname_rsa, km_export_types_rsa);
static const OSSL_DISPATCH km_ed25519[] =
    KEYMGMT_FNS(km_new_ed25519, km_opname_ed25519, km_export_types_ed25519);

/* ---- encoder: the public key as DER SubjectPublicKeyInfo --------------------- */

static void *enc_newctx(void *provctx)
{
    return provctx; /* no state */
}

static void enc_freectx(void *ctx)
{
    (void)ctx;
}

static int enc_does_selection(void *provctx, int selection)
{
    (void)provctx;
    return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) == 0 &&
           (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0;
}

static int enc_encode(void *ctx, OSSL_CORE_BIO *out, const void *keydata,
                      const OSSL_PARAM key_abstract[], int selection, OSSL_PASSPHRASE_CALLBACK *cb,
                      void *cbarg)
{
    const struct rkey *k = keydata;
    unsigned char *der = NULL;
    size_t written = 0;
    int n, rc;

    (void)ctx;
    (void)key_abstract;
    (void)cb;
    (void)cbarg;
    if (k == NULL || k->pub == NULL || core_bio_write_ex == NULL ||
        !enc_does_selection(NULL, selection) || (n = i2d_PUBKEY(k->pub, &der)) <= 0)
        return 0;
    rc = core_bio_write_ex(out, der, (size_t)n, &written) && written == (size_t)n;
    OPENSSL_free(der);
    return rc;
}

static const OSSL_DISPATCH enc_fns[] = {
    {OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))enc_newctx},
    {OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx},
    {OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))enc_does_selection},
    {OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))enc_encode},
    {0, NULL},
};

/* ---- signature ------------------------------------------------------------ */

struct rsig {
    struct rkey *key;
    char md[32];     /* canonical short name, "" for Ed25519 */
    struct buf data; /* what digest_sign_update collected */
};

static void *sig_newctx(void *provctx, const char *propq)
{
    (void)provctx;
    (void)propq;
    return xcalloc(1, sizeof(struct rsig));
}

static void sig_freectx(void *vctx)
{
    struct rsig *c = vctx;

    if (c == NULL)
        return;
    buf_free(&c->data);
    free(c);
}

static void *sig_dupctx(void *vctx)
{
    struct rsig *c = vctx, *d = xcalloc(1, sizeof(*d));

    d->key = c->key;
    memcpy(d->md, c->md, sizeof(d->md));
    if (c->data.len > 0)
        buf_append(&d->data, c->data.data, c->data.len);
    return d;
}

/*
 * Records the digest: "" for Ed25519 (which takes none), else SHA-256/384/512
 * by canonical name (NULL picks the key's default).  0 with an error raised
 * for anything else: the signer would refuse it anyway.
 */
static int set_md(struct rsig *c, const char *mdname)
{
    int none = mdname == NULL || mdname[0] == '\0' || strcmp(mdname, "UNDEF") == 0, nid;
    EVP_MD *md;

    c->md[0] = '\0';
    if (is_ed25519(c->key)) {
        if (!none)
            remote_error("Ed25519 signs without a separate digest, not with %s", mdname);
        return none;
    }
    if (none)
        mdname = default_digest(c->key);
    md = EVP_MD_fetch(NULL, mdname, NULL);
    nid = md ? EVP_MD_get_type(md) : NID_undef;
    EVP_MD_free(md);
    if (nid != NID_sha256 && nid != NID_sha384 && nid != NID_sha512) {
        remote_error("remote keys sign with SHA-256, SHA-384 or SHA-512, not %s", mdname);
        return 0;
    }
    snprintf(c->md, sizeof(c->md), "%s", OBJ_nid2sn(nid));
    return 1;
}

static int sig_set_ctx_params(void *vctx, const OSSL_PARAM params[]);

static int sig_digest_sign_init(void *vctx, const char *mdname, void *keydata,
                                const OSSL_PARAM params[])
{
    struct rsig *c = vctx;

    if (keydata != NULL)
        c->key = keydata;
    if (c->key == NULL)
        return 0;
    c->data.len = 0;
    return set_md(c, mdname) && sig_set_ctx_params(c, params);
}

static int sig_digest_sign_update(void *vctx, const unsigned char *data, size_t len)
{
    struct rsig *c = vctx;

    if (len > WIRE_MAX_SIGN - 1024 - c->data.len) {
        remote_error("remote keys sign at most %d bytes", WIRE_MAX_SIGN - 1024);
        return 0;
    }
    buf_append(&c->data, data, len);
    return 1;
}

/* Has the signer sign tbs; with sig NULL, just says how large a signature can be. */
static int sign_remote(struct rsig *c, unsigned char *sig, size_t *siglen, size_t sigsize,
                       const unsigned char *tbs, size_t tbslen)
{
    unsigned char *out = NULL;
    size_t n = 0;
    struct err e;

    if (c->key == NULL)
        return 0;
    if (sig == NULL) {
        *siglen = (size_t)EVP_PKEY_get_size(c->key->pub);
        return 1;
    }
    if (signer_sign(c->key->signer, c->key->tenant, c->key->key_id, c->md, tbs, tbslen, &out, &n,
                    &e) != 0) {
        if (e.kind == ERR_UNAVAILABLE) /* the signer restarting: 503, not 500 (err_ossl) */
            ERR_raise_data(ERR_LIB_USER, VOUCH_OSSL_R_UNAVAILABLE, "signer: %s", e.msg);
        else
            remote_error("signer: %s", e.msg);
        return 0;
    }
    if (n > sigsize) {
        free(out);
        remote_error("signature larger than the buffer");
        return 0;
    }
    memcpy(sig, out, n);
    *siglen = n;
    free(out);
    return 1;
}

static int sig_digest_sign_final(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
    struct rsig *c = vctx;
    int rc = sign_remote(c, sig, siglen, sigsize, c->data.data, c->data.len);

    if (sig != NULL)
        c->data.len = 0; /* a size query keeps the data for the real call */
    return rc;
}

static int sig_digest_sign(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                           const unsigned char *tbs, size_t tbslen)
{
    if (tbslen > WIRE_MAX_SIGN - 1024) {
        remote_error("remote keys sign at most %d bytes", WIRE_MAX_SIGN - 1024);
        return 0;
    }
    return sign_remote(vctx, sig, siglen, sigsize, tbs, tbslen);
}

/*
 * The DER AlgorithmIdentifier of this key type and digest into buf: ECDSA and
 * Ed25519 without parameters, RSA PKCS#1 v1.5 with NULL (RFC 5758, 8410,
 * 4055).  Its length, or 0.
 */
static size_t algorithm_id(const struct rsig *c, unsigned char *buf, size_t size)
{
    int pkey_nid = strcmp(c->key->alg, ALG_RSA) == 0  ? NID_rsaEncryption
                   : strcmp(c->key->alg, ALG_EC) == 0 ? NID_X9_62_id_ecPublicKey
                                                      : NID_ED25519;
    int md_nid = c->md[0] ? OBJ_sn2nid(c->md) : NID_undef, sig_nid = NID_undef;
    X509_ALGOR *alg;
    unsigned char *der = NULL;
    int len;

    if (pkey_nid == NID_ED25519)
        sig_nid = NID_ED25519;
    else if (OBJ_find_sigid_by_algs(&sig_nid, md_nid, pkey_nid) != 1)
        return 0;
    if ((alg = X509_ALGOR_new()) == NULL ||
        X509_ALGOR_set0(alg, OBJ_nid2obj(sig_nid),
                        pkey_nid == NID_rsaEncryption ? V_ASN1_NULL : V_ASN1_UNDEF, NULL) != 1) {
        X509_ALGOR_free(alg);
        return 0;
    }
    len = i2d_X509_ALGOR(alg, &der);
    X509_ALGOR_free(alg);
    if (len <= 0 || (size_t)len > size) {
        OPENSSL_free(der);
        return 0;
    }
    memcpy(buf, der, (size_t)len);
    OPENSSL_free(der);
    return (size_t)len;
}

static int sig_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct rsig *c = vctx;
    OSSL_PARAM *p;
    unsigned char aid[64];
    size_t n;

    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID)) != NULL) {
        if (c->key == NULL || (n = algorithm_id(c, aid, sizeof(aid))) == 0 ||
            !OSSL_PARAM_set_octet_string(p, aid, n))
            return 0;
    }
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL &&
        !OSSL_PARAM_set_utf8_string(p, c->md))
        return 0;
    return 1;
}

static const OSSL_PARAM *sig_gettable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM list[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)vctx;
    (void)provctx;
    return list;
}

/* PKCS#1 v1.5 (RSA_PKCS1_PADDING, "pkcs1") is the only padding: the signer uses no other. */
static int pad_mode_ok(const struct rsig *c, const OSSL_PARAM *p)
{
    const char *name = NULL;
    int pad = 0;

    if (c->key == NULL || strcmp(c->key->alg, ALG_RSA) != 0)
        return 0;
    if (p->data_type == OSSL_PARAM_INTEGER)
        return OSSL_PARAM_get_int(p, &pad) && pad == 1;
    return OSSL_PARAM_get_utf8_string_ptr(p, &name) && strcmp(name, "pkcs1") == 0;
}

static int sig_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct rsig *c = vctx;
    const OSSL_PARAM *p;
    const char *name = NULL;

    if (params == NULL)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL &&
        (!OSSL_PARAM_get_utf8_string_ptr(p, &name) || !set_md(c, name)))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL &&
        !pad_mode_ok(c, p)) {
        remote_error("remote RSA keys sign with PKCS#1 v1.5 padding only");
        return 0;
    }
    return 1;
}

static const OSSL_PARAM *sig_settable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM list[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)vctx;
    (void)provctx;
    return list;
}

static const OSSL_DISPATCH sig_fns[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx},
    {OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx},
    {OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_sign_init},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_digest_sign_update},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_digest_sign_final},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))sig_digest_sign},
    {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_ctx_params},
    {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable_ctx_params},
    {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_ctx_params},
    {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))sig_settable_ctx_params},
    {0, NULL},
};

/* ---- the provider ---------------------------------------------------------- */

static const OSSL_ALGORITHM keymgmts[] = {
    {ALG_EC, PROPS, km_ec, "EC key held by the vouch signer"},
    {ALG_RSA, PROPS, km_rsa, "RSA key held by the vouch signer"},
    {ALG_ED25519, PROPS, km_ed25519, "Ed25519 key held by the vouch signer"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM signatures[] = {
    {ALG_EC, PROPS, sig_fns, NULL},
    {ALG_RSA, PROPS, sig_fns, NULL},
    {ALG_ED25519, PROPS, sig_fns, NULL},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM encoders[] = {
    {ALG_EC, PROPS_SPKI, enc_fns, NULL},
    {ALG_RSA, PROPS_SPKI, enc_fns, NULL},
    {ALG_ED25519, PROPS_SPKI, enc_fns, NULL},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM *provider_query(void *provctx, int op, int *no_cache)
{
    (void)provctx;
    *no_cache = 0;
    switch (op) {
    case OSSL_OP_KEYMGMT:
        return keymgmts;
    case OSSL_OP_SIGNATURE:
        return signatures;
    case OSSL_OP_ENCODER:
        return encoders;
    default:
        return NULL;
    }
}

static const OSSL_DISPATCH provider_fns[] = {
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))provider_query},
    {0, NULL},
};

static int provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                         const OSSL_DISPATCH **out, void **provctx)
{
    for (; in != NULL && in->function_id != 0; in++)
        if (in->function_id == OSSL_FUNC_BIO_WRITE_EX)
            core_bio_write_ex = OSSL_FUNC_BIO_write_ex(in);
    *out = provider_fns;
    *provctx = (void *)handle;
    return 1;
}

static pthread_once_t provider_once = PTHREAD_ONCE_INIT;
static int provider_ok;
static OSSL_PROVIDER *loaded_default, *loaded_remote;

static void provider_unload(void)
{
    OSSL_PROVIDER_unload(loaded_remote);
    OSSL_PROVIDER_unload(loaded_default);
}

static void provider_load(void)
{
    /* Loading a provider explicitly stops OpenSSL from loading "default" by itself. */
    provider_ok = OSSL_PROVIDER_add_builtin(NULL, PROVIDER_NAME, provider_init) == 1 &&
                  (loaded_default = OSSL_PROVIDER_load(NULL, "default")) != NULL &&
                  (loaded_remote = OSSL_PROVIDER_load(NULL, PROVIDER_NAME)) != NULL;
    atexit(provider_unload);
}

EVP_PKEY *remote_key_new(struct signer *s, const char *tenant, const char *key_id, EVP_PKEY *pub,
                         struct err *e)
{
    struct rkey_init init = {REF_MAGIC, s, tenant, key_id, pub};
    const struct rkey_init *ref = &init;
    OSSL_PARAM params[] = {
        OSSL_PARAM_octet_string(REF_PARAM, (void *)&ref, sizeof(ref)),
        OSSL_PARAM_END,
    };
    const char *alg = key_type_of(pub) == KEY_NONE    ? NULL
                      : EVP_PKEY_is_a(pub, "RSA")     ? ALG_RSA
                      : EVP_PKEY_is_a(pub, "EC")      ? ALG_EC
                      : EVP_PKEY_is_a(pub, "ED25519") ? ALG_ED25519
                                                      : NULL;
    EVP_PKEY_CTX *ctx;
    EVP_PKEY *key = NULL;

    pthread_once(&provider_once, provider_load);
    if (!provider_ok)
        return err_ossl(e, ERR_INTERNAL, "remote key provider failed to load"), NULL;
    if (alg == NULL)
        return err_set(e, ERR_INTERNAL, "key %s: unsupported type", key_id), NULL;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, PROPS);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) != 1) {
        err_ossl(e, ERR_INTERNAL, "remote key %s", key_id);
        key = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return key;
}

/* Whether the certificate's SubjectPublicKeyInfo is, byte for byte, key's. */
static int cert_has_key(X509 *cert, EVP_PKEY *key)
{
    unsigned char *a = NULL, *b = NULL;
    int alen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &a), blen = i2d_PUBKEY(key, &b);
    int same = alen > 0 && alen == blen && memcmp(a, b, (size_t)alen) == 0;

    OPENSSL_free(a);
    OPENSSL_free(b);
    return same;
}

X509 *signer_key_cert(EVP_PKEY *key, X509 *cert, struct err *e)
{
    X509 *bound = NULL;

    if (key == NULL || cert == NULL || !cert_has_key(cert, key)) {
        err_set(e, ERR_INVALID, "the certificate is not for this key");
    } else if ((bound = X509_dup(cert)) == NULL || X509_set_pubkey(bound, key) != 1) {
        err_ossl(e, ERR_INTERNAL, "cannot attach the key to the certificate");
        X509_free(bound);
        bound = NULL;
    }
    ERR_clear_error();
    return bound;
}
