/*
 * svc_principal.c — principals (users and applications of a tenant), the
 * roles bound to them, and their API tokens.
 *
 * A token is "vt_<16 hex>_<43 base64url>": the first part is public and finds
 * the row (its `hash` column), the second is a 256-bit secret of which only
 * an argon2id hash is stored.  Every change here is audited in the tenant's
 * chain.
 */
#include "svc/svc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/netaddr.h"

/* argon2id parameters (RFC 9106 §4's second recommended option, scaled down: 19 MiB, t=2). */
#define ARGON2_T    2
#define ARGON2_M    19456
#define ARGON2_P    1
#define ARGON2_SALT 16
#define ARGON2_LEN  32

static const char *const tenant_roles[] = {"tenant-admin", "ca-operator", "ra-officer",
                                           "requester",    "auditor",     NULL};
static const char *const system_roles[] = {"system-admin", NULL};

const char *const *svc_roles(const char *tenant)
{
    return strcmp(tenant, "_system") == 0 ? system_roles : tenant_roles;
}

int svc_role_valid(const char *tenant, const char *role)
{
    for (const char *const *r = svc_roles(tenant); *r != NULL; r++)
        if (strcmp(*r, role) == 0)
            return 1;
    return 0;
}

/* ---- tokens ------------------------------------------------------------ */

char *svc_token_secret_hash(const char *secret)
{
    unsigned char salt[ARGON2_SALT];
    size_t len =
        argon2_encodedlen(ARGON2_T, ARGON2_M, ARGON2_P, ARGON2_SALT, ARGON2_LEN, Argon2_id);
    char *out = xmalloc(len);

    if (random_bytes(salt, sizeof(salt)) != 0 ||
        argon2id_hash_encoded(ARGON2_T, ARGON2_M, ARGON2_P, secret, strlen(secret), salt,
                              sizeof(salt), ARGON2_LEN, out, len) != ARGON2_OK) {
        free(out);
        return NULL;
    }
    return out;
}

int svc_token_secret_verify(const char *encoded, const char *secret)
{
    if (encoded == NULL || strncmp(encoded, "$argon2id$", 10) != 0)
        return 0;
    return argon2id_verify(encoded, secret, strlen(secret)) == ARGON2_OK;
}

const char *svc_token_split(const char *token, char key[20])
{
    size_t i;

    if (strncmp(token, "vt_", 3) != 0)
        return NULL;
    for (i = 3; i < 19; i++)
        if (!((token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f')))
            return NULL;
    if (token[19] != '_' || token[20] == '\0')
        return NULL;
    memcpy(key, token, 19);
    key[19] = '\0';
    return token + 20;
}

/* 256 random bits in base64url without padding (caller frees); NULL on CSPRNG failure. */
static char *secret_new(void)
{
    unsigned char raw[32];
    char *b64;

    if (random_bytes(raw, sizeof(raw)) != 0)
        return NULL;
    b64 = base64_encode(raw, sizeof(raw));
    secure_zero(raw, sizeof(raw));
    for (char *p = b64; *p; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
        else if (*p == '=')
            *p = '\0';
    }
    return b64;
}

/* 0 if principal `id` of tenant exists and is enabled (ERR_NOT_FOUND / ERR_CONFLICT otherwise). */
static int principal_usable(struct store_tx *tx, const char *tenant, const char *id, struct err *e)
{
    struct principal_rec *p = NULL;
    int disabled;

    if (store_principal_get(tx, tenant, id, &p, e) != 0)
        return err_set(e, ERR_NOT_FOUND, "principal %s not found", id);
    disabled = p->disabled;
    principal_rec_free(p);
    if (disabled)
        return err_set(e, ERR_CONFLICT, "principal %s is disabled", id);
    return 0;
}

/*
 * Makes a token of principal with creators (JSON array text); replaces: the
 * id of a token of the same principal revoked in the same transaction (a
 * rotation, audited as token.rotate), or NULL (token.create).
 */
static int token_make(struct svc *s, const struct actor *a, const char *tenant,
                      const char *principal, const char *name, long expires_days,
                      const char *creators, const char *replaces, struct token_rec **out,
                      char **secret, struct err *e)
{
    struct token_rec r = {0};
    struct store_tx *tx = NULL;
    char *part = NULL, *tok = NULL, *detail = NULL;
    int rc = -1;

    if (name == NULL || name[0] == '\0' || strlen(name) > 128)
        return err_set(e, ERR_INVALID, "name: required, at most 128 characters");
    if (expires_days < 0 || expires_days > 3650)
        return err_set(e, ERR_INVALID, "expires_days: 0 to 3650");
    if (principal == NULL || principal[0] == '\0')
        return err_set(e, ERR_INVALID, "principal: required");
    r.id = random_id("tok");
    part = secret_new();
    if (r.id == NULL || part == NULL) {
        err_set(e, ERR_INTERNAL, "CSPRNG failure");
        goto out;
    }
    r.tenant = (char *)tenant;
    r.name = (char *)name;
    r.hash = xasprintf("vt_%s", r.id + 4);
    r.role = "";
    r.principal = (char *)principal;
    r.creators = (char *)creators;
    if ((r.secret = svc_token_secret_hash(part)) == NULL) {
        err_set(e, ERR_INTERNAL, "argon2id failed");
        goto out;
    }
    r.created = time_now();
    r.expires = expires_days ? r.created + expires_days * 86400 : 0;
    if (replaces != NULL)
        detail = xasprintf("{\"replaces\":\"%s\"}", replaces);
    tx = store_begin(s->store, e);
    if (tx == NULL || principal_usable(tx, tenant, principal, e) != 0 ||
        (replaces != NULL && store_token_revoke(tx, tenant, replaces, r.created, e) != 0) ||
        store_token_insert(tx, tenant, &r, e) != 0 ||
        svc_audit_ok(tx, tenant, a, replaces ? "token.rotate" : "token.create", r.id, detail, e) !=
            0) {
        if (replaces != NULL && e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_CONFLICT, "token %s is revoked already", replaces);
        store_rollback(tx);
        goto out;
    }
    if (store_commit(tx, e) != 0)
        goto out;
    tok = xasprintf("%s_%s", r.hash, part);
    *out = xcalloc(1, sizeof(**out));
    **out = r;
    (*out)->tenant = xstrdup(tenant);
    (*out)->name = xstrdup(name);
    (*out)->role = xstrdup("");
    (*out)->principal = xstrdup(principal);
    (*out)->creators = xstrdup(creators);
    *secret = tok;
    r.id = r.hash = r.secret = NULL; /* now owned by *out */
    rc = 0;
out:
    if (part != NULL)
        secure_zero(part, strlen(part));
    free(part);
    free(detail);
    free(r.id);
    free(r.hash);
    free(r.secret);
    return rc;
}

int svc_token_create(struct svc *s, const struct actor *a, const char *tenant,
                     const char *principal, const char *name, long expires_days,
                     struct token_rec **out, char **secret, struct err *e)
{
    /* whoever makes a token for another could keep it: the approvals made with it count for both */
    char *creators = svc_creators_for(a, principal ? principal : "");
    int rc =
        token_make(s, a, tenant, principal, name, expires_days, creators, NULL, out, secret, e);

    free(creators);
    return rc;
}

int svc_token_rotate(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                     long expires_days, struct token_rec **out, char **secret, struct err *e)
{
    if (a == NULL || a->principal == NULL || a->id == NULL || strncmp(a->id, "tok-", 4) != 0)
        return err_set(e, ERR_INVALID, "only a bearer token can be rotated, with itself");
    /* the old token is gone with it: no one but who presented it holds the new one */
    return token_make(s, a, tenant, a->principal, name, expires_days, "[]", a->id, out, secret, e);
}

int svc_token_revoke(struct svc *s, const struct actor *a, const char *tenant, const char *id,
                     struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);

    if (tx == NULL)
        return -1;
    if (store_token_revoke(tx, tenant, id, time_now(), e) != 0 ||
        svc_audit_ok(tx, tenant, a, "token.revoke", id, NULL, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    return store_commit(tx, e);
}

/* ---- principals -------------------------------------------------------- */

int svc_addr_allowed(const char *allow_json, const char *addr)
{
    json_t *list = json_loads(allow_json ? allow_json : "[]", 0, NULL);
    struct netaddr have, net;
    int ok = 0;
    size_t i;
    json_t *v;

    if (!json_is_array(list)) {
        json_decref(list);
        return 0;
    }
    if (json_array_size(list) == 0 || addr == NULL) {
        ok = json_array_size(list) == 0;
        json_decref(list);
        return ok;
    }
    if (netaddr_parse(addr, &have) == 0 && strchr(addr, '/') == NULL)
        json_array_foreach(list, i, v)
        {
            const char *cidr = json_string_value(v);

            if (cidr != NULL && netaddr_parse(cidr, &net) == 0 && netaddr_within(&have, &net)) {
                ok = 1;
                break;
            }
        }
    json_decref(list);
    return ok;
}

/* The allowlist as compact JSON text (caller frees), or NULL with e set if invalid. */
static char *allow_text(json_t *allow, const char *kind, struct err *e)
{
    struct netaddr net;
    size_t i;
    json_t *v;

    if (allow == NULL || json_is_null(allow))
        return xstrdup("[]");
    if (!json_is_array(allow) || json_array_size(allow) > 64)
        return err_set(e, ERR_INVALID, "allow: an array of at most 64 CIDRs"), NULL;
    if (json_array_size(allow) > 0 && strcmp(kind, "application") != 0)
        return err_set(e, ERR_INVALID, "allow: only applications have an allowlist"), NULL;
    json_array_foreach(allow, i, v)
    {
        if (!json_is_string(v) || netaddr_parse(json_string_value(v), &net) != 0)
            return err_set(e, ERR_INVALID, "allow[%zu]: not an address or CIDR", i), NULL;
    }
    return json_dumps(allow, JSON_COMPACT);
}

/* Reads a client-certificate mapping into r (strings owned by r); -1 with e if malformed. */
static int client_cert_map(json_t *m, struct principal_rec *r, struct err *e)
{
    const char *issuer, *subject, *sha;

    if (m == NULL || json_is_null(m))
        return 0;
    issuer = json_string_value(json_object_get(m, "issuer"));
    subject = json_string_value(json_object_get(m, "subject"));
    sha = json_string_value(json_object_get(m, "sha256"));
    if (!json_is_object(m) || (sha == NULL && (issuer == NULL || subject == NULL)) ||
        (sha != NULL && (issuer != NULL || subject != NULL)))
        return err_set(e, ERR_INVALID, "client_cert: {\"issuer\", \"subject\"} or {\"sha256\"}");
    if (sha != NULL) {
        if (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)
            return err_set(e, ERR_INVALID, "client_cert.sha256: 64 lowercase hex");
        r->cert_sha256 = xstrdup(sha);
        return 0;
    }
    if (strlen(issuer) > 1024 || strlen(subject) > 1024 || !issuer[0] || !subject[0])
        return err_set(e, ERR_INVALID, "client_cert: issuer and subject, 1 to 1024");
    r->cert_issuer = xstrdup(issuer);
    r->cert_subject = xstrdup(subject);
    return 0;
}

int svc_principal_create(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                         const char *kind, json_t *allow, json_t *client_cert,
                         struct principal_rec **out, struct err *e)
{
    struct principal_rec r = {0};
    struct store_tx *tx;
    int rc = -1;

    if (name == NULL || name[0] == '\0' || strlen(name) > 128)
        return err_set(e, ERR_INVALID, "name: required, at most 128 characters");
    if (kind == NULL || (strcmp(kind, "user") != 0 && strcmp(kind, "application") != 0))
        return err_set(e, ERR_INVALID, "kind: \"user\" or \"application\"");
    if ((r.allow = allow_text(allow, kind, e)) == NULL)
        return -1;
    if (client_cert_map(client_cert, &r, e) != 0) {
        free(r.allow);
        free(r.cert_issuer);
        free(r.cert_subject);
        free(r.cert_sha256);
        return -1;
    }
    r.tenant = (char *)tenant;
    r.id = random_id("prn");
    r.name = (char *)name;
    r.kind = (char *)kind;
    r.created = time_now();
    tx = store_begin(s->store, e);
    if (tx != NULL && (store_principal_insert(tx, tenant, &r, e) != 0 ||
                       svc_audit_ok(tx, tenant, a, "principal.create", r.id, NULL, e) != 0)) {
        if (e->kind == ERR_CONFLICT)
            err_set(e, ERR_CONFLICT, "a principal named %s exists", name);
        store_rollback(tx);
        tx = NULL;
    }
    if (tx != NULL && store_commit(tx, e) == 0) {
        *out = xcalloc(1, sizeof(**out));
        **out = r;
        (*out)->tenant = xstrdup(tenant);
        (*out)->name = xstrdup(name);
        (*out)->kind = xstrdup(kind);
        r.id = r.allow = r.cert_issuer = r.cert_subject = r.cert_sha256 = NULL; /* *out's */
        rc = 0;
    }
    free(r.id);
    free(r.allow);
    free(r.cert_issuer);
    free(r.cert_subject);
    free(r.cert_sha256);
    return rc;
}

int svc_principal_set_disabled(struct svc *s, const struct actor *a, const char *tenant,
                               const char *id, int disabled, struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);

    if (tx == NULL)
        return -1;
    if (store_principal_set_disabled(tx, tenant, id, disabled, e) != 0 ||
        svc_audit_ok(tx, tenant, a, disabled ? "principal.disable" : "principal.enable", id, NULL,
                     e) != 0) {
        store_rollback(tx);
        return -1;
    }
    return store_commit(tx, e);
}

/*
 * ERR_FORBIDDEN if a live token of principal p (of ptenant) counts for one
 * of a's persons (they made it).  Changing that principal's roles would be
 * changing their own.
 */
static int credential_of_actor(struct store_tx *tx, const struct actor *a, const char *ptenant,
                               const struct principal_rec *p, struct err *e)
{
    json_t *persons = svc_actor_persons(a), *creators;
    struct token_rec **t = NULL;
    const char *who = NULL;
    size_t n = 0;
    int rc = 0;

    if ((rc = store_token_list(tx, ptenant, &t, &n, e)) == 0)
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (strcmp(t[i]->principal, p->id) != 0 || t[i]->revoked != 0 ||
                (t[i]->expires != 0 && t[i]->expires <= time_now()))
                continue;
            creators = json_loads(t[i]->creators ? t[i]->creators : "[]", 0, NULL);
            if ((who = svc_persons_meet(persons, creators)) != NULL)
                rc = err_set(e, ERR_FORBIDDEN,
                             "%s made token %s of %s: its roles are not theirs to change "
                             "until it is rotated or revoked",
                             who, t[i]->id, p->id);
            json_decref(creators);
        }
    for (size_t i = 0; i < n; i++)
        token_rec_free(t[i]);
    free(t);
    json_decref(persons);
    return rc;
}

/*
 * What a binding needs of its input and of the tenant, in tx: a known role, a
 * principal of this tenant or _system that exists (to bind), is not the
 * actor itself, and (to bind) has no live token the actor made.
 */
static int binding_check(struct store_tx *tx, const struct actor *a, const char *tenant,
                         const char *ptenant, const char *principal, const char *role, int bind,
                         struct err *e)
{
    struct principal_rec *p = NULL;
    int rc;

    if (!svc_role_valid(tenant, role))
        return err_set(e, ERR_INVALID, "role: unknown role %s", role);
    if (strcmp(ptenant, tenant) != 0 && strcmp(ptenant, "_system") != 0)
        return err_set(e, ERR_INVALID, "principal_tenant: this tenant or _system");
    if (a != NULL && a->principal != NULL && strcmp(a->principal, principal) == 0)
        return err_set(e, ERR_FORBIDDEN, "a principal cannot change its own roles");
    if (store_principal_get(tx, ptenant, principal, &p, e) != 0) {
        if (e->kind != ERR_NOT_FOUND || !bind)
            return e->kind == ERR_NOT_FOUND ? 0 : -1;
        return err_set(e, ERR_NOT_FOUND, "principal %s not found", principal);
    }
    /* taking a role away is never taking power for oneself */
    rc = bind ? credential_of_actor(tx, a, ptenant, p, e) : 0;
    principal_rec_free(p);
    return rc;
}

/* Binds (or unbinds) role; hook (or NULL) runs in its transaction; *out (or NULL) the binding. */
static int role_change(struct svc *s, const struct actor *a, const char *tenant,
                       const char *principal_tenant, const char *principal, const char *role,
                       int bind, const struct svc_hook *hook, struct binding_rec **out,
                       struct err *e)
{
    struct binding_rec r = {.tenant = (char *)tenant,
                            .principal_tenant = (char *)principal_tenant,
                            .principal = (char *)principal,
                            .role = (char *)role,
                            .created = time_now(),
                            .granted_by = (char *)svc_actor_who(a),
                            .granted = time_now_us()};
    struct svc_made made = {.binding = &r};
    struct store_tx *tx;
    char *object, *detail;
    int rc;

    if ((tx = store_begin(s->store, e)) == NULL)
        return -1;
    if (binding_check(tx, a, tenant, principal_tenant, principal, role, bind, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    object = xasprintf("%s/%s", principal_tenant, principal);
    detail = xasprintf("{\"role\":\"%s\"}", role);
    rc = bind ? store_binding_insert(tx, tenant, &r, e) : store_binding_delete(tx, tenant, &r, e);
    if (rc != 0 && e->kind == ERR_CONFLICT)
        err_set(e, ERR_CONFLICT, "%s holds role %s already", principal, role);
    if (rc == 0)
        rc = svc_audit_ok(tx, tenant, a, bind ? "role.bind" : "role.unbind", object, detail, e);
    if (rc == 0 && hook != NULL)
        rc = hook->fn(tx, hook->arg, &made, e);
    free(object);
    free(detail);
    if (rc != 0 || store_commit(tx, e) != 0) {
        if (rc != 0)
            store_rollback(tx);
        return -1;
    }
    if (out != NULL) {
        *out = xcalloc(1, sizeof(**out));
        (*out)->tenant = xstrdup(tenant);
        (*out)->principal_tenant = xstrdup(principal_tenant);
        (*out)->principal = xstrdup(principal);
        (*out)->role = xstrdup(role);
        (*out)->created = r.created;
        (*out)->granted_by = xstrdup(r.granted_by);
        (*out)->granted = r.granted;
    }
    return 0;
}

int svc_role_bind(struct svc *s, const struct actor *a, const char *tenant,
                  const char *principal_tenant, const char *principal, const char *role, int bind,
                  struct err *e)
{
    return role_change(s, a, tenant, principal_tenant, principal, role, bind, NULL, NULL, e);
}

int svc_role_bind_op(struct svc *s, const struct actor *a, const char *tenant,
                     const struct svc_op *op, const struct svc_hook *hook, struct binding_rec **out,
                     struct err *e)
{
    return role_change(s, a, tenant, op->principal_tenant ? op->principal_tenant : tenant,
                       op->principal, op->role, 1, hook, out, e);
}

int svc_role_bind_check(struct svc *s, const struct actor *a, const char *tenant,
                        const struct svc_op *op, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = binding_check(tx, a, tenant, op->principal_tenant ? op->principal_tenant : tenant,
                       op->principal, op->role, 1, e);
    store_rollback(tx);
    return rc;
}

int svc_principal_bootstrap(struct svc *s, const struct actor *a, const char *tenant,
                            const char *name, char **id, struct err *e)
{
    struct principal_rec **list = NULL, *made = NULL;
    struct store_tx *tx = store_begin_read(s->store, e);
    char *found = NULL;
    size_t n = 0;
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_principal_list(tx, tenant, &list, &n, e);
    store_rollback(tx);
    if (rc != 0)
        return -1;
    for (size_t i = 0; i < n && found == NULL; i++)
        if (strcmp(list[i]->name, name) == 0)
            found = xstrdup(list[i]->id);
    principal_rec_list_free(list, n);
    if (found == NULL) {
        if (svc_principal_create(s, a, tenant, name, "user", NULL, NULL, &made, e) != 0)
            return -1;
        found = xstrdup(made->id);
        principal_rec_free(made);
    }
    for (const char *const *r = svc_roles(tenant); *r != NULL; r++)
        if (svc_role_bind(s, a, tenant, tenant, found, *r, 1, e) != 0 && e->kind != ERR_CONFLICT) {
            free(found);
            return -1;
        }
    *id = found;
    return 0;
}

/* ---- client CAs -------------------------------------------------------- */

/* The DER of tenant's active CA `ca` (caller frees); NULL with e set. */
static unsigned char *ca_der(struct store_tx *tx, const char *tenant, const char *ca, size_t *len,
                             struct err *e)
{
    struct ca_rec *r = NULL;
    unsigned char *der = NULL;

    if (store_ca_get(tx, tenant, ca, &r, e) != 0)
        return err_set(e, ERR_NOT_FOUND, "CA %s not found", ca), NULL;
    if (r->cert_der == NULL || strcmp(r->status, "active") != 0)
        err_set(e, ERR_CONFLICT, "CA %s is not active", ca);
    else {
        der = xmalloc(r->cert_len);
        memcpy(der, r->cert_der, r->cert_len);
        *len = r->cert_len;
    }
    ca_rec_free(r);
    return der;
}

int svc_client_ca_add(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                      const char *ca, const unsigned char *der, size_t len,
                      struct client_ca_rec **out, struct err *e)
{
    struct client_ca_rec r = {.tenant = (char *)tenant, .name = (char *)name, .ca = (char *)ca};
    struct store_tx *tx;
    const unsigned char *p;
    X509 *cert = NULL;
    int rc = -1;

    if (!name_valid(name))
        return err_set(e, ERR_INVALID, "name: letters, digits, '-', '_', '.'");
    if ((tx = store_begin(s->store, e)) == NULL)
        return -1;
    if (ca != NULL) {
        if ((r.cert = ca_der(tx, tenant, ca, &r.cert_len, e)) == NULL)
            goto out;
    } else {
        r.cert = xmalloc(len);
        memcpy(r.cert, der, len);
        r.cert_len = len;
    }
    p = r.cert;
    if ((cert = d2i_X509(NULL, &p, (long)r.cert_len)) == NULL || X509_check_ca(cert) == 0) {
        err_set(e, ERR_POLICY, "certificate: not a CA certificate");
        goto out;
    }
    r.created = time_now();
    if (store_client_ca_insert(tx, tenant, &r, e) != 0 ||
        svc_audit_ok(tx, tenant, a, "client_ca.add", name, NULL, e) != 0) {
        if (e->kind == ERR_CONFLICT)
            err_set(e, ERR_CONFLICT, "client CA %s exists", name);
        goto out;
    }
    if (store_commit(tx, e) == 0) {
        *out = xcalloc(1, sizeof(**out));
        **out = r;
        (*out)->tenant = xstrdup(tenant);
        (*out)->name = xstrdup(name);
        (*out)->ca = ca ? xstrdup(ca) : NULL;
        r.cert = NULL; /* *out's */
        rc = 0;
    }
    tx = NULL;
out:
    store_rollback(tx);
    X509_free(cert);
    free(r.cert);
    return rc;
}

int svc_client_ca_delete(struct svc *s, const struct actor *a, const char *tenant, const char *name,
                         struct err *e)
{
    struct store_tx *tx = store_begin(s->store, e);

    if (tx == NULL)
        return -1;
    if (store_client_ca_delete(tx, tenant, name, e) != 0 ||
        svc_audit_ok(tx, tenant, a, "client_ca.delete", name, NULL, e) != 0) {
        store_rollback(tx);
        return -1;
    }
    return store_commit(tx, e);
}

/* ---- reading principals, bindings, tokens and client CAs ------------------ */

int svc_principal_list(struct svc *s, const char *tenant, struct principal_rec ***out, size_t *n,
                       struct binding_rec ***bindings, size_t *nb, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct principal_rec **list = NULL;
    size_t count = 0;

    if (tx == NULL)
        return -1;
    if (store_principal_list(tx, tenant, &list, &count, e) != 0 ||
        store_binding_list(tx, tenant, NULL, NULL, bindings, nb, e) != 0) {
        store_rollback(tx);
        principal_rec_list_free(list, count);
        return -1;
    }
    store_rollback(tx);
    *out = list;
    *n = count;
    return 0;
}

int svc_principal_get(struct svc *s, const char *tenant, const char *id, struct principal_rec **out,
                      struct binding_rec ***bindings, size_t *nb, struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    struct principal_rec *r = NULL;

    if (tx == NULL)
        return -1;
    if (store_principal_get(tx, tenant, id, &r, e) != 0 ||
        store_binding_list(tx, tenant, tenant, id, bindings, nb, e) != 0) {
        store_rollback(tx);
        principal_rec_free(r);
        if (e->kind == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "principal %s not found", id);
        return -1;
    }
    store_rollback(tx);
    *out = r;
    return 0;
}

int svc_binding_list(struct svc *s, const char *tenant, struct binding_rec ***out, size_t *n,
                     struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_binding_list(tx, tenant, NULL, NULL, out, n, e);
    store_rollback(tx);
    return rc;
}

int svc_token_list(struct svc *s, const char *tenant, struct token_rec ***out, size_t *n,
                   struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_token_list(tx, tenant, out, n, e);
    store_rollback(tx);
    return rc;
}

int svc_token_none_live(struct svc *s, const char *tenant, struct err *e)
{
    struct token_rec **list = NULL;
    int64_t now = time_now();
    size_t n = 0, live = 0;

    if (svc_token_list(s, tenant, &list, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        live += list[i]->revoked == 0 && (list[i]->expires == 0 || list[i]->expires > now);
        token_rec_free(list[i]);
    }
    free(list);
    if (live > 0)
        return err_set(e, ERR_CONFLICT,
                       "tenant %s has live tokens: its administrators make new ones "
                       "(POST /api/v1/t/%s/tokens)",
                       tenant, tenant);
    return 0;
}

int svc_client_ca_list(struct svc *s, const char *tenant, struct client_ca_rec ***out, size_t *n,
                       struct err *e)
{
    struct store_tx *tx = store_begin_read(s->store, e);
    int rc;

    if (tx == NULL)
        return -1;
    rc = store_client_ca_list(tx, tenant, out, n, e);
    store_rollback(tx);
    return rc;
}
