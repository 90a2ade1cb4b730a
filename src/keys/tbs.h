/*
 * tbs.h — the kinds of data the signer signs.  A request to sign anything
 * else is refused, so a compromised network process cannot make a key sign
 * arbitrary bytes.
 */
#ifndef VOUCH_TBS_H
#define VOUCH_TBS_H

#include <stddef.h>

/*
 * "certificate", "CRL", "CSR" or "OCSP response" if data is, in whole, a
 * TBSCertificate, a TBSCertList, a CertificationRequestInfo or an OCSP
 * ResponseData; NULL otherwise.
 */
const char *tbs_kind(const unsigned char *data, size_t len);

#endif
