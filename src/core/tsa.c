/*
 * tsa.c — RFC 3161 requests, TSTInfo and responses (see tsa.h).
 *
 * OpenSSL's TS_RESP has no public setter for PKIFailureInfo and would make
 * us re-parse the signer's token (and its certificates) to wrap it, so the
 * TimeStampResp is encoded with a template of our own below: the token is
 * carried as the DER the signer returned.
 */
#include "core/tsa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "core/core_internal.h"
#include "core/profile.h"

/* PKIStatusInfo (RFC 3161 §2.4.2, RFC 4210 §5.2.3) and TimeStampResp. */
typedef struct {
    ASN1_INTEGER *status;
    STACK_OF(ASN1_UTF8STRING) * text;
    ASN1_BIT_STRING *failure_info;
} TSA_STATUS;

typedef struct {
    TSA_STATUS *status;
    ASN1_TYPE *token;
} TSA_RESP;

// clang-format off
DECLARE_ASN1_FUNCTIONS(TSA_STATUS)
DECLARE_ASN1_FUNCTIONS(TSA_RESP)

ASN1_SEQUENCE(TSA_STATUS) = {
    ASN1_SIMPLE(TSA_STATUS, status, ASN1_INTEGER),
    ASN1_SEQUENCE_OF_OPT(TSA_STATUS, text, ASN1_UTF8STRING),
    ASN1_OPT(TSA_STATUS, failure_info, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(TSA_STATUS)

ASN1_SEQUENCE(TSA_RESP) = {
    ASN1_SIMPLE(TSA_RESP, status, TSA_STATUS),
    ASN1_OPT(TSA_RESP, token, ASN1_ANY),
} ASN1_SEQUENCE_END(TSA_RESP)

IMPLEMENT_ASN1_FUNCTIONS(TSA_STATUS)
IMPLEMENT_ASN1_FUNCTIONS(TSA_RESP)
// clang-format on

#define STATUS_GRANTED   0
#define STATUS_REJECTION 2

                    static const struct {
    const char *name;
    int nid;
} hashes[] = {
    {"sha1", NID_sha1},
    {"sha256", NID_sha256},
    {"sha384", NID_sha384},
    {"sha512", NID_sha512},
};

int tsa_hash_nid(const char *name)
{
    for (size_t i = 0; name != NULL && i < ARRAY_LEN(hashes); i++)
        if (strcmp(hashes[i].name, name) == 0)
            return hashes[i].nid;
    return NID_undef;
}

const char *tsa_hash_name(int nid)
{
    for (size_t i = 0; i < ARRAY_LEN(hashes); i++)
        if (hashes[i].nid == nid)
            return hashes[i].name;
    return "unknown";
}

static int policy_accepted(const struct tsa_policy *p, const ASN1_OBJECT *o)
{
    for (int i = 0; i < sk_ASN1_OBJECT_num(p->policies); i++)
        if (OBJ_cmp(sk_ASN1_OBJECT_value(p->policies, i), o) == 0)
            return 1;
    return 0;
}

static int policies_add(struct tsa_policy *p, const char *json, struct err *e)
{
    json_t *arr = json_loads(json ? json : "[]", 0, NULL);
    size_t i;
    json_t *v;
    int rc = 0;

    if (!json_is_array(arr)) {
        json_decref(arr);
        return err_set(e, ERR_INVALID, "policies: must be an array of OIDs");
    }
    json_array_foreach(arr, i, v)
    {
        ASN1_OBJECT *o = oid_parse(json_string_value(v));
        if (o == NULL) {
            rc = err_set(e, ERR_INVALID, "policies[%zu]: not a dotted OID", i);
            break;
        }
        if (policy_accepted(p, o))
            ASN1_OBJECT_free(o);
        else
            sk_ASN1_OBJECT_push(p->policies, o);
    }
    json_decref(arr);
    return rc;
}

static int hashes_add(struct tsa_policy *p, const char *json, struct err *e)
{
    json_t *arr = json_loads(json ? json : "[]", 0, NULL);
    size_t i;
    json_t *v;
    int rc = 0;

    if (!json_is_array(arr) || json_array_size(arr) == 0)
        rc = err_set(e, ERR_INVALID, "hashes: must be a non-empty array");
    json_array_foreach(arr, i, v)
    {
        int nid = rc == 0 ? tsa_hash_nid(json_string_value(v)) : NID_undef;
        if (rc != 0)
            break;
        if (nid == NID_undef) {
            rc = err_set(e, ERR_INVALID, "hashes[%zu]: one of sha1, sha256, sha384, sha512", i);
            break;
        }
        if (p->nhash < (int)ARRAY_LEN(p->hash_nids))
            p->hash_nids[p->nhash++] = nid;
    }
    json_decref(arr);
    return rc;
}

int tsa_policy_init(struct tsa_policy *p, const char *policy, const char *policies_json,
                    const char *hashes_json, int64_t accuracy_ms, struct err *e)
{
    memset(p, 0, sizeof(*p));
    p->policies = sk_ASN1_OBJECT_new_null();
    p->accuracy_ms = accuracy_ms;
    if ((p->default_policy = oid_parse(policy)) == NULL) {
        err_set(e, ERR_INVALID, "policy: required, a dotted OID (1.3.6.1.4.1...)");
        goto fail;
    }
    sk_ASN1_OBJECT_push(p->policies, OBJ_dup(p->default_policy));
    if (policies_add(p, policies_json, e) != 0 || hashes_add(p, hashes_json, e) != 0)
        goto fail;
    if (accuracy_ms < 0 || accuracy_ms > 86400000) {
        err_set(e, ERR_INVALID, "accuracy_ms: 0 to 86400000");
        goto fail;
    }
    return 0;
fail:
    tsa_policy_clear(p);
    return -1;
}

void tsa_policy_clear(struct tsa_policy *p)
{
    ASN1_OBJECT_free(p->default_policy);
    sk_ASN1_OBJECT_pop_free(p->policies, ASN1_OBJECT_free);
    memset(p, 0, sizeof(*p));
}

void tsa_query_clear(struct tsa_query *q)
{
    TS_REQ_free(q->req);
    memset(q, 0, sizeof(*q));
}

static int refuse(enum tsa_failure *failure, enum tsa_failure f, char *why, size_t why_len,
                  const char *text)
{
    *failure = f;
    snprintf(why, why_len, "%s", text);
    return -1;
}

static int hash_accepted(const struct tsa_policy *p, int nid)
{
    for (int i = 0; i < p->nhash; i++)
        if (p->hash_nids[i] == nid)
            return 1;
    return 0;
}

/* Checks the message imprint: an accepted hash, no parameters, a hash-sized value. */
static int imprint_check(const struct tsa_policy *p, TS_REQ *req, int *nid_out,
                         enum tsa_failure *failure, char *why, size_t why_len)
{
    TS_MSG_IMPRINT *mi = TS_REQ_get_msg_imprint(req);
    const ASN1_OBJECT *obj;
    const void *pval;
    int ptype, nid;
    const EVP_MD *md;

    X509_ALGOR_get0(&obj, &ptype, &pval, TS_MSG_IMPRINT_get_algo(mi));
    nid = OBJ_obj2nid(obj);
    if (!hash_accepted(p, nid) || (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL))
        return refuse(failure, TSA_FAIL_BAD_ALG, why, why_len,
                      "the imprint's hash algorithm is not accepted");
    md = EVP_get_digestbynid(nid);
    if (md == NULL || ASN1_STRING_length(TS_MSG_IMPRINT_get_msg(mi)) != EVP_MD_get_size(md))
        return refuse(failure, TSA_FAIL_BAD_DATA_FORMAT, why, why_len,
                      "the imprint's length is not its hash algorithm's");
    *nid_out = nid;
    return 0;
}

int tsa_query_parse(const struct tsa_policy *p, const unsigned char *der, size_t len,
                    struct tsa_query *q, enum tsa_failure *failure, char *why, size_t why_len)
{
    const unsigned char *in = der;
    int is_der = len > 0 && len <= 65536 && der_check(der, len) == 0;
    TS_REQ *req = is_der ? d2i_TS_REQ(NULL, &in, (long)len) : NULL;
    const ASN1_OBJECT *policy = NULL;
    int nid = NID_undef, rc = -1;

    ERR_clear_error();
    if (!is_der && len > 0 && len <= 65536)
        refuse(failure, TSA_FAIL_BAD_DATA_FORMAT, why, why_len,
               "not DER (RFC 3161, 2.4.1: BER lengths, a constructed string or bytes after it)");
    else if (req == NULL || in != der + len)
        refuse(failure, TSA_FAIL_BAD_DATA_FORMAT, why, why_len, "not a DER TimeStampReq");
    else if (TS_REQ_get_version(req) != 1)
        refuse(failure, TSA_FAIL_BAD_DATA_FORMAT, why, why_len, "version must be 1");
    else if (imprint_check(p, req, &nid, failure, why, why_len) != 0)
        ;
    else if ((policy = TS_REQ_get_policy_id(req)) != NULL && !policy_accepted(p, policy))
        refuse(failure, TSA_FAIL_UNACCEPTED_POLICY, why, why_len, "the policy is not accepted");
    else if (sk_X509_EXTENSION_num(TS_REQ_get_exts(req)) > 0)
        refuse(failure, TSA_FAIL_UNACCEPTED_EXTENSION, why, why_len,
               "this TSA accepts no request extensions");
    else
        rc = 0;
    if (rc != 0) {
        TS_REQ_free(req);
        return -1;
    }
    memset(q, 0, sizeof(*q));
    q->req = req;
    q->policy = policy != NULL ? policy : p->default_policy;
    q->hash_nid = nid;
    q->cert_req = TS_REQ_get_cert_req(req);
    return 0;
}

/*
 * genTime as GeneralizedTime text: UTC, "Z", a fraction only as fine as the
 * accuracy (milliseconds when it is not whole seconds) and without trailing
 * zeros (RFC 3161 §2.4.2).
 */
static int gen_time_text(const struct timespec *now, int64_t accuracy_ms, char *out, size_t len)
{
    struct tm tm;
    size_t n;

    if (gmtime_r(&now->tv_sec, &tm) == NULL || (n = strftime(out, len, "%Y%m%d%H%M%S", &tm)) == 0 ||
        len < n + 6)
        return -1;
    if (accuracy_ms % 1000 != 0) {
        snprintf(out + n, len - n, ".%03ld", now->tv_nsec / 1000000);
        n += 4;
        while (out[n - 1] == '0')
            out[--n] = '\0';
        if (out[n - 1] == '.')
            out[--n] = '\0';
    }
    snprintf(out + n, len - n, "Z");
    return 0;
}

static int int_set(ASN1_INTEGER **slot, int64_t v)
{
    ASN1_INTEGER *i = ASN1_INTEGER_new();

    if (i == NULL || ASN1_INTEGER_set_int64(i, v) != 1) {
        ASN1_INTEGER_free(i);
        return -1;
    }
    *slot = i;
    return 0;
}

/* The Accuracy of accuracy_ms (seconds and millis, zero parts omitted). */
static int accuracy_set(TS_TST_INFO *ti, int64_t accuracy_ms)
{
    TS_ACCURACY *acc = TS_ACCURACY_new();
    ASN1_INTEGER *sec = NULL, *ms = NULL;
    int ok = acc != NULL;

    if (ok && accuracy_ms / 1000 > 0)
        ok = int_set(&sec, accuracy_ms / 1000) == 0 && TS_ACCURACY_set_seconds(acc, sec) == 1;
    if (ok && accuracy_ms % 1000 > 0)
        ok = int_set(&ms, accuracy_ms % 1000) == 0 && TS_ACCURACY_set_millis(acc, ms) == 1;
    ok = ok && TS_TST_INFO_set_accuracy(ti, acc) == 1;
    ASN1_INTEGER_free(sec);
    ASN1_INTEGER_free(ms);
    TS_ACCURACY_free(acc);
    return ok ? 0 : -1;
}

static int tsa_name_set(TS_TST_INFO *ti, const X509_NAME *subject)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    X509_NAME *dup = X509_NAME_dup(subject);
    int ok = gn != NULL && dup != NULL;

    if (ok) {
        GENERAL_NAME_set0_value(gn, GEN_DIRNAME, dup);
        dup = NULL;
        ok = TS_TST_INFO_set_tsa(ti, gn) == 1;
    }
    X509_NAME_free(dup);
    GENERAL_NAME_free(gn);
    return ok ? 0 : -1;
}

static int tst_fill(TS_TST_INFO *ti, const struct tsa_query *q, const struct tsa_policy *p,
                    const ASN1_INTEGER *serial, const char *gen_time, const X509_NAME *tsa_subject)
{
    ASN1_GENERALIZEDTIME *t = ASN1_GENERALIZEDTIME_new();
    const ASN1_INTEGER *nonce = TS_REQ_get_nonce(q->req);
    int ok = t != NULL && ASN1_GENERALIZEDTIME_set_string(t, gen_time) == 1 &&
             TS_TST_INFO_set_version(ti, 1) == 1 &&
             TS_TST_INFO_set_policy_id(ti, (ASN1_OBJECT *)q->policy) == 1 &&
             TS_TST_INFO_set_msg_imprint(ti, TS_REQ_get_msg_imprint(q->req)) == 1 &&
             TS_TST_INFO_set_serial(ti, serial) == 1 && TS_TST_INFO_set_time(ti, t) == 1 &&
             (p->accuracy_ms == 0 || accuracy_set(ti, p->accuracy_ms) == 0) &&
             (nonce == NULL || TS_TST_INFO_set_nonce(ti, nonce) == 1) &&
             (tsa_subject == NULL || tsa_name_set(ti, tsa_subject) == 0);

    ASN1_GENERALIZEDTIME_free(t);
    return ok ? 0 : -1;
}

int tsa_tst_build(const struct tsa_query *q, const struct tsa_policy *p, const ASN1_INTEGER *serial,
                  const struct timespec *now, const X509_NAME *tsa_subject, unsigned char **der,
                  size_t *der_len, char **gen_time, struct err *e)
{
    TS_TST_INFO *ti = TS_TST_INFO_new();
    unsigned char *out = NULL;
    char text[32];
    int n = -1;

    if (ti != NULL && gen_time_text(now, p->accuracy_ms, text, sizeof(text)) == 0 &&
        tst_fill(ti, q, p, serial, text, tsa_subject) == 0)
        n = i2d_TS_TST_INFO(ti, &out);
    TS_TST_INFO_free(ti);
    if (n <= 0)
        return err_ossl(e, ERR_INTERNAL, "TSTInfo cannot be encoded");
    *der = out;
    *der_len = (size_t)n;
    *gen_time = xstrdup(text);
    return 0;
}

/* Encodes a TimeStampResp of status (+ failure bit, text) and optional token. */
static int resp_encode(int status, int failure, const char *text, const unsigned char *token,
                       size_t token_len, unsigned char **out, size_t *out_len)
{
    TSA_RESP *r = TSA_RESP_new();
    ASN1_UTF8STRING *s = NULL;
    ASN1_STRING *seq = NULL;
    unsigned char *der = NULL;
    int ok = r != NULL && ASN1_INTEGER_set(r->status->status, status) == 1, n = -1;

    if (ok && text != NULL) {
        ok = (r->status->text = sk_ASN1_UTF8STRING_new_null()) != NULL &&
             (s = ASN1_UTF8STRING_new()) != NULL && ASN1_STRING_set(s, text, -1) == 1 &&
             sk_ASN1_UTF8STRING_push(r->status->text, s) > 0;
        if (ok)
            s = NULL;
    }
    if (ok && failure >= 0)
        ok = (r->status->failure_info = ASN1_BIT_STRING_new()) != NULL &&
             ASN1_BIT_STRING_set_bit(r->status->failure_info, failure, 1) == 1;
    if (ok && token != NULL) {
        ok = (r->token = ASN1_TYPE_new()) != NULL &&
             (seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE)) != NULL &&
             ASN1_STRING_set(seq, token, (int)token_len) == 1;
        if (ok) {
            ASN1_TYPE_set(r->token, V_ASN1_SEQUENCE, seq);
            seq = NULL;
        }
    }
    if (ok)
        n = i2d_TSA_RESP(r, &der);
    ASN1_STRING_free(seq);
    ASN1_UTF8STRING_free(s);
    TSA_RESP_free(r);
    if (n <= 0)
        return -1;
    *out = der;
    *out_len = (size_t)n;
    return 0;
}

int tsa_resp_granted(const unsigned char *token, size_t token_len, unsigned char **out,
                     size_t *out_len)
{
    return resp_encode(STATUS_GRANTED, -1, NULL, token, token_len, out, out_len);
}

int tsa_resp_refusal(enum tsa_failure failure, const char *text, unsigned char **out,
                     size_t *out_len)
{
    return resp_encode(STATUS_REJECTION, (int)failure, text, NULL, 0, out, out_len);
}

char *tsa_query_imprint_hex(const struct tsa_query *q)
{
    const ASN1_OCTET_STRING *h = TS_MSG_IMPRINT_get_msg(TS_REQ_get_msg_imprint(q->req));

    return hex_encode(ASN1_STRING_get0_data(h), (size_t)ASN1_STRING_length(h));
}

char *tsa_query_nonce_hex(const struct tsa_query *q)
{
    const ASN1_INTEGER *nonce = TS_REQ_get_nonce(q->req);

    return nonce != NULL ? serial_hex(nonce) : NULL;
}
