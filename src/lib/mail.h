/*
 * mail.h — sending one e-mail through an SMTP server (a local MTA or a
 * relay) with libcurl: smtp:// with STARTTLS, or smtps://, with optional
 * authentication.  Knows nothing of what the message says.
 */
#ifndef VOUCH_MAIL_H
#define VOUCH_MAIL_H

#include <stddef.h>

#include "lib/util.h"

struct mail_server {
    const char *url;      /* smtp://host[:port] or smtps://host[:port] */
    const char *from;     /* envelope sender and From: address */
    const char *user;     /* NULL: no authentication */
    const char *password; /* with user */
    const char *ca_file;  /* CA certificates that verify the server; NULL: the system's */
    int starttls;         /* smtp://: 1 = STARTTLS required, 0 = plain */
    long timeout_seconds;
};

/*
 * Whether addr is an e-mail address this module sends to: local@domain, no
 * spaces, no control characters, no <>,;:" or brackets (nothing a header or
 * an SMTP command could be bent with), at most 254 characters.
 */
int mail_address_valid(const char *addr);

/*
 * Sends message (headers and body, CRLF line ends) to the n addresses of rcpt.
 * 0, or -1 with e set (ERR_UNAVAILABLE: the server or the network failed).
 */
int mail_send(const struct mail_server *m, const char *const *rcpt, size_t n, const char *message,
              struct err *e);

#endif
