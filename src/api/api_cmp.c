/*
 * api_cmp.c — the HTTP transport of CMP (RFC 6712): a POST of
 * application/pkixcmp to /.well-known/cmp/p/{label} on the public and the
 * API listener, answered with the PKIMessage svc_cmp_answer makes (200), or
 * an HTTP error where no PKIMessage can be formed (RFC 6712 §3.6: a body that
 * is no PKIMessage is 400; an unknown label 404).
 */
#include "api/api_internal.h"

#include <stdlib.h>

#include "lib/log.h"

void api_cmp(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *api = app;
    const char *label = http_param(req, "label");
    unsigned char *der = NULL;
    size_t len = 0;
    struct err e;

    if (svc_cmp_answer(api->svc, label, req->body, req->body_len, &der, &len, &e) != 0) {
        if (e.kind == ERR_NOT_FOUND)
            http_respond_kind(resp, ERR_NOT_FOUND, "no such CMP endpoint");
        else
            http_respond_err(resp, &e);
        if (e.kind == ERR_INTERNAL || e.kind == ERR_UNAVAILABLE)
            log_warn("cmp %s: %s", label, e.msg);
        return;
    }
    http_add_header(resp, "Cache-Control", "no-cache");
    http_respond(resp, 200, "application/pkixcmp", der, len);
    free(der);
}
