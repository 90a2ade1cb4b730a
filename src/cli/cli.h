/*
 * cli.h — the `vouch` command-line tool: a client of the REST API of
 * docs/api.md, and an inspector of certificates, CSRs and CRLs that needs no
 * server.  src/cmd/vouch.c calls cli_main(); the rest is here for the tests.
 */
#ifndef VOUCH_CLI_H
#define VOUCH_CLI_H

#include <stdio.h>

#include <jansson.h>

#include "lib/util.h"

/* Exit codes of vouch. */
#define CLI_EXIT_OK          0
#define CLI_EXIT_FAIL        1   /* the server refused, the transport failed, a file was unusable */
#define CLI_EXIT_USAGE       2   /* the command line is wrong */
#define CLI_EXIT_INTERRUPTED 130 /* Ctrl-C stopped --wait (128 + SIGINT); the request stays */

/* A struct err of kind ERR_USAGE reports a usage error (exit CLI_EXIT_USAGE); any other fails. */

/*
 * Runs vouch: argv[0] is the program name, then global options, then the
 * command.  Output goes to out, diagnostics to errout.  Returns the exit code.
 */
int cli_main(int argc, char **argv, FILE *out, FILE *errout);

/* The HTTP request a command maps to. */
struct cli_request {
    const char *method; /* "GET", "POST", "PUT", "DELETE" (static) or NULL: no request */
    char *path;         /* from "/api/v1", percent-encoded segments and query values */
    json_t *body;       /* JSON body (POST, PUT) or NULL */
    int merge_current;  /* PUT of a whole object: GET path first, apply body over it */
};

/*
 * Maps a command (argv[0] the group, e.g. "cert", argv[1] the verb, then its
 * arguments) in tenant `tenant` to its request.  Pure apart from reading the
 * files the command names (a CSR, a profile document).  On success fills req
 * (free it with cli_request_free); on error returns -1 with e set, of kind
 * ERR_USAGE for a usage error.
 */
int cli_request_build(int argc, char **argv, const char *tenant, struct cli_request *req,
                      struct err *e);
/* Frees what req holds; accepts a zeroed request. */
void cli_request_free(struct cli_request *req);

/*
 * Prints every certificate, CSR and CRL of the PEM or DER file at path onto
 * out (CSRs with the result of their signature check).  0 ok, -1 with e set
 * if the file cannot be read or holds none of them.
 */
int cli_inspect(const char *path, FILE *out, struct err *e);

#endif
