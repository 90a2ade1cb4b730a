/*
 * jws.c — the request JWS of ACME (RFC 8555 §6.2): the flattened JSON
 * serialization taken apart (RFC 7515 §7.2.2), the protected header checked
 * member by member, the payload parsed, the signature verified.
 */
#include "acme/acme_internal.h"

#include <string.h>

/* ---- the flattened JSON serialization ------------------------------------------ */

/* Refuses any member but "protected", "payload" and "signature", naming the rule. */
static int check_members(const json_t *obj, const char *what, struct err *e)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v)
    {
        if (strcmp(key, "protected") == 0 || strcmp(key, "payload") == 0 ||
            strcmp(key, "signature") == 0)
            continue;
        if (strcmp(key, "header") == 0)
            return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                            "%s: the JWS Unprotected Header MUST NOT be used (RFC 8555 §6.2)",
                            what);
        if (strcmp(key, "signatures") == 0)
            return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                            "%s: the general JSON serialization is refused: one signature, "
                            "flattened (RFC 8555 §6.2)",
                            what);
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "%s: member \"%.32s\" is not one of a flattened JWS (RFC 7515 §7.2.2)",
                        what, key);
    }
    return 0;
}

/* Member name of obj, a base64url string (non-empty unless may_be_empty), decoded into *out. */
static int b64_member(const json_t *obj, const char *what, const char *name, int may_be_empty,
                      const char *rule, unsigned char **out, size_t *len, struct err *e)
{
    const json_t *v = json_object_get(obj, name);

    if (!json_is_string(v) || (!may_be_empty && json_string_length(v) == 0))
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED, "%s: \"%s\" must be %s string (%s)",
                        what, name, may_be_empty ? "a" : "a non-empty", rule);
    if (base64url_decode(json_string_value(v), json_string_length(v), out, len) != 0)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "%s: \"%s\" is not base64url without padding (RFC 7515 §2, RFC 8555 §6.1)",
                        what, name);
    return 0;
}

/* ASCII(protected || '.' || payload) from the strings as sent (RFC 7515 §5.2). */
static void signing_input(const json_t *obj, struct jws_parts *p)
{
    const json_t *prot = json_object_get(obj, "protected");
    const json_t *payload = json_object_get(obj, "payload");
    size_t pl = json_string_length(prot), yl = json_string_length(payload);

    p->signing_input = xmalloc(pl + 1 + yl + 1);
    memcpy(p->signing_input, json_string_value(prot), pl);
    p->signing_input[pl] = '.';
    memcpy(p->signing_input + pl + 1, json_string_value(payload), yl);
    p->signing_input_len = pl + 1 + yl;
    p->signing_input[p->signing_input_len] = '\0';
}

int jws_split(const json_t *obj, const char *what, struct jws_parts *p, struct err *e)
{
    struct jws_parts q = {0};
    unsigned char *header = NULL;
    size_t header_len = 0;
    json_error_t jerr;

    if (!json_is_object(obj))
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "%s: not a JWS in the flattened JSON serialization (RFC 8555 §6.2, "
                        "RFC 7515 §7.2.2)",
                        what);
    if (check_members(obj, what, e) != 0 ||
        b64_member(obj, what, "protected", 0, "RFC 8555 §6.2: alg, nonce and url are protected",
                   &header, &header_len, e) != 0 ||
        b64_member(obj, what, "payload", 1, "RFC 8555 §6.2: the payload MUST NOT be detached",
                   &q.payload, &q.payload_len, e) != 0 ||
        b64_member(obj, what, "signature", 0, "RFC 7515 §7.2.1", &q.signature, &q.signature_len,
                   e) != 0)
        goto fail;
    q.header = json_loadb((const char *)header, header_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(q.header)) {
        err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                 "%s: the protected header is not a JSON object with unique member names (RFC "
                 "7515 §4, §5.2)",
                 what);
        goto fail;
    }
    free(header);
    signing_input(obj, &q);
    *p = q;
    return 0;
fail:
    free(header);
    jws_parts_clear(&q);
    return -1;
}

void jws_parts_clear(struct jws_parts *p)
{
    if (p == NULL)
        return;
    json_decref(p->header);
    free(p->payload);
    free(p->signing_input);
    free(p->signature);
    memset(p, 0, sizeof(*p));
}

/* ---- protected header members -------------------------------------------------- */

int jws_header_no_extensions(const json_t *header, const char *what, struct err *e)
{
    if (json_object_get(header, "crit") != NULL)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "%s: \"crit\" names extensions this server does not understand (RFC 7515 "
                        "§4.1.11)",
                        what);
    if (json_object_get(header, "b64") != NULL)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "%s: the JWS Unencoded Payload Option (\"b64\", RFC 7797) MUST NOT be used "
                        "(RFC 8555 §6.2)",
                        what);
    return 0;
}

static int printable(const char *s, size_t len, int allow_space)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < (allow_space ? 0x20 : 0x21) || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

int jws_header_string(const json_t *header, const char *what, const char *name, size_t max,
                      int allow_space, const char *rule, const char **out, struct err *e)
{
    const json_t *v = json_object_get(header, name);

    if (v == NULL) {
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
        !printable(json_string_value(v), json_string_length(v), allow_space))
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "%s: \"%s\" must be a string of 1 to %zu printable ASCII characters (%s)",
                        what, name, max, rule);
    *out = json_string_value(v);
    return 0;
}

/* "alg": one of acme_jws_algorithms(); "none", MACs and the rest are badSignatureAlgorithm. */
static int check_alg(const json_t *h, enum acme_alg *out, struct err *e)
{
    const char *name = json_string_value(json_object_get(h, "alg"));
    enum acme_alg a = alg_parse(name);

    if (name == NULL)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "jws: \"alg\" must be present as a string (RFC 8555 §6.2, RFC 7515 "
                        "§4.1.1)");
    if (strcmp(name, "none") == 0)
        return err_setc(e, ERR_INVALID, ACME_ERR_BAD_SIG_ALG,
                        "jws: \"alg\" MUST NOT be \"none\" (RFC 8555 §6.2)");
    if (alg_is_mac(a))
        return err_setc(e, ERR_INVALID, ACME_ERR_BAD_SIG_ALG,
                        "jws: \"alg\" %s is a MAC, which MUST NOT sign a request (RFC 8555 §6.2)",
                        name);
    if (!alg_is_account(a))
        return err_setc(e, ERR_INVALID, ACME_ERR_BAD_SIG_ALG,
                        "jws: \"alg\" \"%.32s\" is not supported (ES256, ES384, RS256, EdDSA; RFC "
                        "8555 §6.2)",
                        name);
    *out = a;
    return 0;
}

/* Exactly one of "jwk" and "kid" (an inner JWS: "jwk"); a "jwk" becomes a key suiting "alg". */
static int check_key_ref(const json_t *h, int inner, struct acme_jws *j, struct err *e)
{
    const json_t *jwk = json_object_get(h, "jwk");
    const char *kid = NULL;

    if (jws_header_string(h, "jws", "kid", ACME_JWS_URL_MAX, 0, "RFC 8555 §6.2: the account URL",
                          &kid, e) != 0)
        return -1;
    if (jwk != NULL && kid != NULL)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "jws: \"jwk\" and \"kid\" are mutually exclusive (RFC 8555 §6.2)");
    if (jwk == NULL && kid == NULL)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "jws: the protected header needs \"jwk\" or \"kid\" (RFC 8555 §6.2)");
    if (inner && kid != NULL)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "jws: the inner JWS of a key change MUST have a \"jwk\" (RFC 8555 "
                        "§7.3.5)");
    if (kid != NULL) {
        j->kid = xstrdup(kid);
        return 0;
    }
    if (acme_jwk_to_pkey(jwk, &j->jwk, e) != 0)
        return -1;
    return alg_key_check(j->alg, j->jwk, e);
}

/* "nonce": base64url and required (RFC 8555 §6.5), or absent from an inner JWS (§7.3.5). */
static int check_nonce(const json_t *h, int inner, struct acme_jws *j, struct err *e)
{
    const char *nonce = NULL;
    unsigned char *raw = NULL;
    size_t raw_len = 0;

    if (jws_header_string(h, "jws", "nonce", ACME_JWS_NONCE_MAX, 0, "RFC 8555 §6.5.2", &nonce, e) !=
        0)
        return -1;
    if (inner)
        return nonce == NULL ? 0
                             : err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                                        "jws: the inner JWS of a key change MUST omit \"nonce\" "
                                        "(RFC 8555 §7.3.5)");
    if (nonce == NULL)
        return err_setc(e, ERR_INVALID, ACME_ERR_BAD_NONCE,
                        "jws: the protected header has no \"nonce\" (RFC 8555 §6.5)");
    if (base64url_decode(nonce, strlen(nonce), &raw, &raw_len) != 0)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "jws: \"nonce\" is not base64url (RFC 8555 §6.5.2)");
    free(raw);
    j->nonce = xstrdup(nonce);
    return 0;
}

static int check_url(const json_t *h, struct acme_jws *j, struct err *e)
{
    const char *url = NULL;

    if (jws_header_string(h, "jws", "url", ACME_JWS_URL_MAX, 0, "RFC 8555 §6.4.1", &url, e) != 0)
        return -1;
    if (url == NULL)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "jws: the protected header has no \"url\" (RFC 8555 §6.4.1)");
    j->url = xstrdup(url);
    return 0;
}

/* The payload: a JSON object, or empty for POST-as-GET (RFC 8555 §6.3). */
static int take_payload(const struct jws_parts *p, struct acme_jws *j, struct err *e)
{
    json_error_t jerr;

    if (p->payload_len == 0) {
        j->post_as_get = 1;
        return 0;
    }
    j->payload =
        json_loadb((const char *)p->payload, p->payload_len, JSON_REJECT_DUPLICATES, &jerr);
    if (json_is_object(j->payload))
        return 0;
    json_decref(j->payload);
    j->payload = NULL;
    return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                    "jws: the payload must be a JSON object with unique member names, or empty "
                    "for POST-as-GET (RFC 8555 §6.3, §7)");
}

/* Parses obj as a request JWS (inner: the inner JWS of a key change). */
static int parse_object(const json_t *obj, int inner, struct acme_jws **out, struct err *e)
{
    struct jws_parts p = {0};
    struct acme_jws *j = xcalloc(1, sizeof(*j));
    int rc = -1;

    if (jws_split(obj, "jws", &p, e) != 0 || jws_header_no_extensions(p.header, "jws", e) != 0 ||
        check_alg(p.header, &j->alg, e) != 0 || check_key_ref(p.header, inner, j, e) != 0 ||
        check_nonce(p.header, inner, j, e) != 0 || check_url(p.header, j, e) != 0 ||
        take_payload(&p, j, e) != 0)
        goto out;
    j->signing_input = p.signing_input;
    j->signing_input_len = p.signing_input_len;
    j->signature = p.signature;
    j->signature_len = p.signature_len;
    p.signing_input = p.signature = NULL;
    *out = j;
    j = NULL;
    rc = 0;
out:
    jws_parts_clear(&p);
    acme_jws_free(j);
    return rc;
}

int acme_jws_parse(const unsigned char *body, size_t len, struct acme_jws **out, struct err *e)
{
    json_error_t jerr;
    json_t *obj;
    int rc;

    if (len > ACME_JWS_BODY_MAX)
        return err_setc(e, ERR_TOO_LARGE, ACME_ERR_MALFORMED,
                        "jws: a body of %zu bytes is over the limit of %zu", len,
                        (size_t)ACME_JWS_BODY_MAX);
    obj = body ? json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (obj == NULL)
        return err_setc(e, ERR_INVALID, ACME_ERR_MALFORMED,
                        "jws: the body is not JSON with unique member names; a request is a JWS "
                        "in the flattened JSON serialization (RFC 8555 §6.2)");
    rc = parse_object(obj, 0, out, e);
    json_decref(obj);
    return rc;
}

int acme_jws_parse_inner(const json_t *obj, struct acme_jws **out, struct err *e)
{
    return parse_object(obj, 1, out, e);
}

int acme_jws_verify(const struct acme_jws *jws, EVP_PKEY *key, struct err *e)
{
    if (jws == NULL || key == NULL)
        return err_setc(e, ERR_INTERNAL, ACME_ERR_SERVER_INTERNAL, "jws: no key to verify with");
    if (alg_key_check(jws->alg, key, e) != 0)
        return -1;
    return alg_verify(jws->alg, key, jws->signing_input, jws->signing_input_len, jws->signature,
                      jws->signature_len, e);
}

void acme_jws_free(struct acme_jws *jws)
{
    if (jws == NULL)
        return;
    free(jws->nonce);
    free(jws->url);
    free(jws->kid);
    EVP_PKEY_free(jws->jwk);
    json_decref(jws->payload);
    free(jws->signing_input);
    free(jws->signature);
    free(jws);
}
