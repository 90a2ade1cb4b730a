/*
 * tbs.h — the kinds of data the signer signs.  A request to sign anything
 * else is refused, so a compromised network process cannot make a key sign
 * arbitrary bytes.
 */
#ifndef VOUCH_TBS_H
#define VOUCH_TBS_H

#include <stddef.h>

/*
 * "certificate", "CRL", "CSR", "OCSP response" or "TSTInfo" if data is, in
 * whole, a TBSCertificate, a TBSCertList, a CertificationRequestInfo, an OCSP
 * ResponseData or an RFC 3161 TSTInfo; NULL otherwise.  (A TSTInfo is signed
 * only inside the signer's own CMS SignedData: W_SIGN_TST, never W_SIGN.)
 */
const char *tbs_kind(const unsigned char *data, size_t len);

/* Whether data is, in whole, a TSTInfo (what tbs_kind() calls "TSTInfo", without trying the rest).
 */
int tbs_is_tst_info(const unsigned char *data, size_t len);

#endif
