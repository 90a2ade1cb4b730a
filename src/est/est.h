/*
 * est.h — what EST (RFC 7030, with RFC 8951's clarifications) needs of its
 * messages, with no HTTP, store or signer: bytes in, bytes out.
 *
 * Requests and answers are base64 DER.  RFC 8951 §3: answers are one line of
 * base64 and carry no Content-Transfer-Encoding; requests are taken with or
 * without that header, and their base64 may be wrapped in lines (CR, LF,
 * spaces and tabs are skipped).  Errors carry a text reason (struct err).
 */
#ifndef VOUCH_EST_H
#define VOUCH_EST_H

#include <stddef.h>

#include "lib/util.h"

#define EST_BODY_MAX     (64 * 1024) /* a request body (a base64 PKCS#10 CSR) at most */
#define EST_USER_MAX     64          /* Basic: user name (a credential id) at most */
#define EST_PASSWORD_MAX 128         /* Basic: password at most */

/* The operations of RFC 7030 §3.2.2 (EST_OP_NONE: not one). */
enum est_op {
    EST_OP_NONE = 0,
    EST_OP_CACERTS,
    EST_OP_SIMPLEENROLL,
    EST_OP_SIMPLEREENROLL,
    EST_OP_FULLCMC,
    EST_OP_SERVERKEYGEN,
    EST_OP_CSRATTRS,
};
enum est_op est_op_of(const char *name);

/*
 * The DER of a base64 request body (wrapped or not; at most EST_BODY_MAX
 * bytes), *der (caller frees) and *len; -1 with e (ERR_INVALID) if it is not
 * base64 of something, or the DER's outer length does not end the data.
 */
int est_body_decode(const unsigned char *body, size_t body_len, unsigned char **der, size_t *len,
                    struct err *e);

/*
 * The value of an Authorization header as HTTP Basic (RFC 7617): *user and
 * *password (caller frees each; the password wiped before it is freed); -1
 * with e (ERR_UNAUTHENTICATED) if it is not Basic, not base64, has no ':' or
 * its parts are empty, too long or hold control characters.
 */
int est_basic_parse(const char *header, char **user, char **password, struct err *e);

/*
 * An answer of certificates (RFC 7030 §4.1.3, §4.2.3): a degenerate PKCS#7
 * SignedData ("certs-only") with the DER certificates one after another in
 * der (copied as they are: the caller's, not parsed here), as one line of
 * base64 (*out, caller frees, *len without a terminator).  -1 with e if der
 * is not a sequence of DER SEQUENCEs.
 */
int est_certs_only(const unsigned char *der, size_t der_len, char **out, size_t *len,
                   struct err *e);

/*
 * The csrattrs answer (RFC 7030 §4.5.2): a CsrAttrs SEQUENCE of the OBJECT
 * IDENTIFIERs oids (dotted text), base64 on one line (*out, caller frees).
 */
int est_csrattrs(const char *const *oids, size_t n, char **out, size_t *len, struct err *e);

/*
 * The serverkeygen answer (RFC 7030 §4.4.2): a multipart/mixed body of two
 * parts, the private key (application/pkcs8, the PKCS#8 DER key) and the
 * certificate (certs-only of cert, DER), each one line of base64 without a
 * Content-Transfer-Encoding field (RFC 8951).  *body (caller frees, wiping
 * it: it holds the key) and *len; *content_type (caller frees) names the
 * boundary.  -1 with e if cert is not a certificate or no randomness.
 */
int est_serverkeygen_answer(const unsigned char *key, size_t key_len, const unsigned char *cert,
                            size_t cert_len, char **body, size_t *len, char **content_type,
                            struct err *e);

#endif
