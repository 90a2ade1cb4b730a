/*
 * svc_roles.c — what each role of a tenant may do, and what an actor may.
 *
 * The role map is the policy every caller shares: the REST API checks a
 * route's permission against it before its handler runs, and svc checks the
 * permissions an operation needs beyond that (a requester acts on its own
 * certificates only) whoever submits it.  docs/security.md has it as a table.
 * "X:own" grants X for the principal's own objects only.
 */
#include "svc/svc_internal.h"

#include <string.h>

static const char *const tenant_admin[] = {
    "profile.read", "profile.write", "workflow.read",  "workflow.write",
    "webhook.read", "webhook.write", "principal.read", "principal.write",
    "token.read",   "token.write",   "request.read",   "request.approve",
    "audit.write",  "ca.read",       "cert.read",      "entity.read",
    "tsa.read",     "acme.read",     "acme.write",     "report.read",
    "enroll.read",  "enroll.write",  "cmp.read",       "cmp.write",
    "notice.read",  "notice.write",  "self.read",      NULL,
};
static const char *const ca_operator[] = {
    "ca.read",      "ca.write",  "crl.write",   "tsa.read",  "tsa.write",
    "profile.read", "cert.read", "report.read", "self.read", NULL,
};
static const char *const ra_officer[] = {
    "cert.read", "cert.revoke",  "entity.read", "entity.write", "request.read", "request.approve",
    "ca.read",   "profile.read", "report.read", "self.read",    NULL,
};
static const char *const requester[] = {"cert.issue", "cert.read:own", "request.read:own",
                                        "self.read", NULL};
static const char *const auditor[] = {
    "ca.read",        "cert.read",    "profile.read",  "entity.read",  "tsa.read",   "token.read",
    "principal.read", "request.read", "workflow.read", "webhook.read", "audit.read", "acme.read",
    "report.read",    "enroll.read",  "cmp.read",      "notice.read",  "self.read",  NULL,
};
static const char *const system_admin[] = {"system", NULL};
static const char *const no_permissions[] = {NULL};

static const struct {
    const char *role;
    const char *const *permissions;
} role_map[] = {
    {"tenant-admin", tenant_admin}, {"ca-operator", ca_operator}, {"ra-officer", ra_officer},
    {"requester", requester},       {"auditor", auditor},         {"system-admin", system_admin},
};

const char *const *svc_role_permissions(const char *role)
{
    for (size_t i = 0; i < ARRAY_LEN(role_map); i++)
        if (strcmp(role_map[i].role, role) == 0)
            return role_map[i].permissions;
    return no_permissions;
}

int svc_role_grants(const char *role, const char *permission)
{
    size_t len = strlen(permission);
    int own = 0;

    for (const char *const *p = svc_role_permissions(role); *p != NULL; p++) {
        if (strcmp(*p, permission) == 0)
            return 2;
        if (strncmp(*p, permission, len) == 0 && strcmp(*p + len, ":own") == 0)
            own = 1;
    }
    return own;
}

int svc_permission_known(const char *permission)
{
    if (strchr(permission, ':') != NULL) /* a scope, not a permission */
        return 0;
    for (size_t i = 0; i < ARRAY_LEN(role_map); i++)
        if (svc_role_grants(role_map[i].role, permission))
            return 1;
    return 0;
}

int svc_actor_grants(const struct actor *a, const char *permission)
{
    int best = 0, g;

    if (a == NULL || a->roles == NULL)
        return 2; /* an internal caller: vouchd itself, the scheduler, the offline CA */
    for (size_t i = 0; i < a->nroles; i++)
        if ((g = svc_role_grants(a->roles[i], permission)) > best)
            best = g;
    return best;
}

const char *svc_actor_own_only(const struct actor *a, const char *permission)
{
    if (svc_actor_grants(a, permission) >= 2)
        return NULL;
    return a->principal != NULL ? a->principal : a->id != NULL ? a->id : "anonymous";
}
