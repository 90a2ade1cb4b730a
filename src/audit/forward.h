/*
 * forward.h — live forwarding of audit events to a SIEM as RFC 5424 syslog
 * messages over TCP (RFC 6587 octet counting) or TLS (RFC 5425 framing,
 * which is the same octet counting).
 *
 * The queue is the database: every committed event with a seq above the
 * target's last forwarded seq (table audit_forwarding) is due.  A sender
 * thread sends due events tenant by tenant and records the last seq sent
 * after each batch, so a receiver that is down only delays events, and a
 * restart resends at most one batch (receivers can de-duplicate on the
 * tenant and seq of the structured data).  Nothing here ever blocks or
 * fails a request.
 */
#ifndef VOUCH_AUDIT_FORWARD_H
#define VOUCH_AUDIT_FORWARD_H

#include <stddef.h>

#include "lib/util.h"
#include "store/store.h"

struct forward_config {
    const char *host;      /* the configured SIEM's host name or address; NULL: none */
    int port;              /* receiver TCP port */
    const char *transport; /* "tcp" or "tls" */
    const char *ca_file;   /* tls: CA certificates the receiver's certificate must chain to */
    int facility;          /* syslog facility 0..23 (13: log audit) */
    const char *hostname;  /* HOSTNAME field; NULL: gethostname() */
    int tenant_targets;    /* also each tenant's own target (table audit_targets) */
};

/*
 * The RFC 5424 message of event r (no framing): PRI from facility and the
 * result (ok: 6 informational, refused: 4 warning, error: 3 error), VERSION
 * 1, the event time, hostname, APP-NAME "vouchd", PROCID, MSGID the action,
 * structured data [vouch-audit@32473 tenant seq actor object result hash],
 * MSG the detail JSON (UTF-8 with BOM).  Caller frees.
 */
char *forward_format(const struct audit_rec *r, int facility, const char *hostname);

struct forwarder;

/*
 * Starts the sender thread for cfg (copied) over store: every tenant's chain
 * (and _system's) to the configured SIEM (progress "system"), and with
 * tenant_targets each tenant's chain to the tenant's own target, re-read
 * every second (progress "tenant").  NULL with e set if cfg is unusable (a
 * bad CA file).
 */
struct forwarder *forward_start(struct store *store, const struct forward_config *cfg,
                                struct err *e);
/* Stops the thread and closes the connection; accepts NULL. */
void forward_stop(struct forwarder *f);

#endif
