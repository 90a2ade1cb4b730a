/*
 * http_forwarded.c — who a request comes from when a proxy in front of the
 * server forwarded it: the trusted proxies and the X-Forwarded-For header.
 *
 * A proxy appends the address it received the request from to the header,
 * so reading from the right, every entry up to the first that is not a
 * trusted proxy was written by a trusted proxy; anything to its left was
 * written by the client and is not believed.
 */
#include "http/http_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROXIES_MAX 64

int http_proxies_parse(const char *text, struct netaddr **out, size_t *n, struct err *e)
{
    char *copy, *tok, *save = NULL;
    struct netaddr *nets;
    size_t count = 0;

    *out = NULL;
    *n = 0;
    if (text == NULL)
        return 0;
    copy = xstrdup(text);
    nets = xcalloc(PROXIES_MAX, sizeof(*nets));
    for (tok = strtok_r(copy, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save)) {
        if (count == PROXIES_MAX || netaddr_parse(tok, &nets[count]) != 0) {
            if (count == PROXIES_MAX)
                err_set(e, ERR_INVALID, "trusted_proxies: more than %d entries", PROXIES_MAX);
            else
                err_set(e, ERR_INVALID, "trusted_proxies: %.64s is not an address or network", tok);
            free(copy);
            free(nets);
            return -1;
        }
        count++;
    }
    free(copy);
    if (count == 0) {
        free(nets);
        return 0;
    }
    *out = nets;
    *n = count;
    return 0;
}

static int is_proxy(const struct netaddr *proxies, size_t n, const struct netaddr *a)
{
    for (size_t i = 0; i < n; i++)
        if (netaddr_within(a, &proxies[i]))
            return 1;
    return 0;
}

static void canonical(const struct netaddr *a, char *out, size_t len)
{
    char text[INET6_ADDRSTRLEN];

    if (inet_ntop(a->v6 ? AF_INET6 : AF_INET, a->addr, text, sizeof(text)) == NULL)
        text[0] = '\0';
    snprintf(out, len, "%s", text);
}

int http_forwarded_client(const struct netaddr *proxies, size_t n, const char *xff, char *client,
                          size_t len, struct err *e)
{
    char *list = xstrdup(xff), *end = list + strlen(list), *tok, *comma;
    struct netaddr a, last = {0};
    int found = 0;

    for (;;) {
        comma = strrchr(list, ',');
        tok = comma ? comma + 1 : list;
        while (*tok == ' ' || *tok == '\t')
            tok++;
        while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        *end = '\0';
        if (*tok != '\0') {
            if (strchr(tok, '/') != NULL || netaddr_parse(tok, &a) != 0) {
                err_set(e, ERR_INVALID, "X-Forwarded-For: \"%.64s\" is not an IP address", tok);
                free(list);
                return -1;
            }
            last = a;
            found = 1;
            if (!is_proxy(proxies, n, &a))
                break;
        }
        if (comma == NULL)
            break;
        *comma = '\0';
        end = comma;
    }
    free(list);
    if (!found)
        return 1;
    canonical(&last, client, len);
    return 0;
}
