/*
 * checkpoint.h — checking signed checkpoints of an audit chain, and
 * verifying an exported chain (JSON lines, docs/api.md "Audit export")
 * without the server: what an auditor runs on the file a tenant hands over.
 */
#ifndef VOUCH_AUDIT_CHECKPOINT_H
#define VOUCH_AUDIT_CHECKPOINT_H

#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

/*
 * Checks one checkpoint: der must be an AuditCheckpoint (keys/tbs.h) of
 * tenant, seq and head_hash (hex), and sig its SHA-256 signature by pub.
 * 0 if it holds, else -1 with why[].
 */
int audit_checkpoint_check(EVP_PKEY *pub, const char *tenant, int64_t seq, const char *head_hash,
                           const unsigned char *der, size_t der_len, const unsigned char *sig,
                           size_t sig_len, char *why, size_t why_len);

struct audit_file_verdict {
    int ok;
    int64_t count;       /* events verified in order from seq 1 */
    int64_t checkpoints; /* checkpoints verified */
    int64_t bad_seq;     /* when !ok: the first seq that does not verify */
    char tenant[128];
    char reason[256];
};

/*
 * Verifies an export read from in: the audit-key line, every event's hash
 * and link from seq 1 on, every checkpoint's signature and that the events
 * reach its seq with its hash.  0 with *v filled; -1 if in is not an export
 * at all (why in v->reason).
 */
int audit_file_verify(FILE *in, struct audit_file_verdict *v);

#endif
