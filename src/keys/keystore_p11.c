/*
 * keystore_p11.c — a key store in one PKCS#11 token, through the Cryptoki API
 * (see keystore.h).  This code runs only in the signer.
 *
 * The module is loaded once per path and initialised with CKF_OS_LOCKING_OK.
 * Each store keeps a pool of logged-in sessions, one per signer thread, so a
 * signature never waits for another thread's session.  A Cryptoki error that
 * means the token, the module or the session is gone marks the connection
 * broken: every session of it is closed, the cached object handles are
 * dropped, and the next request (or ping) opens the token again, at most
 * once a second.  Each connection has an epoch, so a session taken before a
 * reconnection is never given back to the new pool, and an object handle is
 * only used with a session of the connection it was found in.
 *
 * A token whose objects vanish may still answer every session call: SoftHSM2
 * whose token files are gone finds no object (CKR_OK) but fails
 * C_GetTokenInfo.  So a key that is not found counts as "not found" only
 * while the token itself still answers; a ping checks the token and a key
 * handle, as signing would use them; and a token that lacks a key its
 * partner holds (keystore_p11_fail) is opened again only after the module
 * was initialised again, the one way such a module sees the token come back.
 *
 * Keys are a private and a public object labelled "<tenant>/<key id>".  The
 * private key signs inside the token (CKM_ECDSA over a digest made here,
 * CKM_RSA_PKCS over a DigestInfo, CKM_EDDSA over the data); OpenSSL encodes
 * the DigestInfo and the ECDSA signature (p11_objects.c, with the conversions
 * between key objects and EVP_PKEYs).
 */
#include "keys/keystore.h"
#include "keys/p11_objects.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <p11-kit/pkcs11.h>

#include <openssl/err.h>

#include "lib/log.h"

#define RECONNECT_INTERVAL 1 /* seconds between two attempts to open a failed token */
#define LABEL_MAX          128

/* A loaded module, shared by the stores that name the same path. */
struct p11_module {
    char *path;
    void *dl;
    CK_FUNCTION_LIST *f;
    int refs;
    /*
     * Every Cryptoki call holds rw for reading; re-initialising the module
     * (C_Finalize, C_Initialize: the only way some modules see a token that
     * came back) holds it for writing and bumps gen, so the stores of the
     * module reconnect.
     */
    pthread_rwlock_t rw;
    unsigned gen;
    int64_t last_reinit;
    struct p11_module *next;
};

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
/*
 * Objects are made and destroyed on tokens one at a time in this process: SoftHSM2's file store
 * answered CKR_GENERAL_ERROR to a key copied into the backup token while another thread made an
 * audit key (seen under load).  Writes to a token are rare (keys made, deleted, bound); signing
 * does not take this lock.
 */
static pthread_mutex_t token_writes = PTHREAD_MUTEX_INITIALIZER;
static struct p11_module *modules;

/* A key found in the token, for the current connection only. */
struct p11_key {
    char *tenant, *key_id;
    CK_OBJECT_HANDLE priv;
    enum key_type type;
    EVP_PKEY *pub;
    struct p11_key *next;
};

struct p11_store {
    struct keystore base;
    struct p11_module *mod;
    CK_FUNCTION_LIST *f;
    char *label, *pin; /* label: the token's label, or "slot N" when only the slot is known */
    int match_label;   /* whether the token must carry label */
    int use_slot;
    CK_SLOT_ID slot_wanted;
    int pool;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t idle_cv;
    int connected;
    unsigned epoch;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE *idle;
    int n_idle;
    int64_t last_try;
    char status[512];   /* why the token is down; "" when up */
    int failed;         /* it could not be opened again: its return is an event */
    int missing;        /* the last attempt did not find the token */
    int stale;          /* it lacked a key its partner holds (keystore_p11_fail) in ... */
    unsigned stale_gen; /* ... this module generation: initialise the module before opening */
    unsigned mod_gen;   /* the module generation the connection belongs to */
    struct p11_key *keys;
};

/* ---- Cryptoki return values ------------------------------------------------ */

static const char *rv_name(CK_RV rv)
{
    switch (rv) {
    case CKR_OK:
        return "CKR_OK";
    case CKR_PIN_INCORRECT:
        return "CKR_PIN_INCORRECT (wrong PIN)";
    case CKR_PIN_LOCKED:
        return "CKR_PIN_LOCKED";
    case CKR_PIN_LEN_RANGE:
        return "CKR_PIN_LEN_RANGE";
    case CKR_DEVICE_ERROR:
        return "CKR_DEVICE_ERROR";
    case CKR_DEVICE_MEMORY:
        return "CKR_DEVICE_MEMORY";
    case CKR_DEVICE_REMOVED:
        return "CKR_DEVICE_REMOVED";
    case CKR_TOKEN_NOT_PRESENT:
        return "CKR_TOKEN_NOT_PRESENT";
    case CKR_SESSION_HANDLE_INVALID:
        return "CKR_SESSION_HANDLE_INVALID";
    case CKR_SESSION_CLOSED:
        return "CKR_SESSION_CLOSED";
    case CKR_USER_NOT_LOGGED_IN:
        return "CKR_USER_NOT_LOGGED_IN";
    case CKR_OBJECT_HANDLE_INVALID:
        return "CKR_OBJECT_HANDLE_INVALID";
    case CKR_KEY_HANDLE_INVALID:
        return "CKR_KEY_HANDLE_INVALID";
    case CKR_GENERAL_ERROR:
        return "CKR_GENERAL_ERROR";
    case CKR_FUNCTION_FAILED:
        return "CKR_FUNCTION_FAILED";
    case CKR_MECHANISM_INVALID:
        return "CKR_MECHANISM_INVALID";
    case CKR_ATTRIBUTE_VALUE_INVALID:
        return "CKR_ATTRIBUTE_VALUE_INVALID";
    case CKR_TEMPLATE_INCONSISTENT:
        return "CKR_TEMPLATE_INCONSISTENT";
    case CKR_DOMAIN_PARAMS_INVALID:
        return "CKR_DOMAIN_PARAMS_INVALID";
    case CKR_CRYPTOKI_NOT_INITIALIZED:
        return "CKR_CRYPTOKI_NOT_INITIALIZED";
    default:
        return "Cryptoki error";
    }
}

/* Whether rv means the token, module or session is gone (reconnect), not a bad request. */
static int rv_broken(CK_RV rv)
{
    switch (rv) {
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
    case CKR_GENERAL_ERROR:
    case CKR_FUNCTION_FAILED:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
        return 1;
    default:
        return 0;
    }
}

/* Sets e for rv from Cryptoki call what: ERR_UNAVAILABLE if the token failed, else ERR_INTERNAL. */
static int rv_err(struct p11_store *s, CK_RV rv, const char *what, struct err *e)
{
    if (rv_broken(rv))
        return err_set(e, ERR_UNAVAILABLE, "PKCS#11 token %s: %s: %s (0x%lx)", s->label, what,
                       rv_name(rv), (unsigned long)rv);
    return err_set(e, ERR_INTERNAL, "PKCS#11 token %s: %s: %s (0x%lx)", s->label, what, rv_name(rv),
                   (unsigned long)rv);
}

/* ---- modules --------------------------------------------------------------- */

/* The module at path, loaded and initialised (shared); NULL with e set. */
static struct p11_module *module_get(const char *path, struct err *e)
{
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_C_GetFunctionList get;
    struct p11_module *m;
    CK_RV rv;

    pthread_mutex_lock(&modules_lock);
    for (m = modules; m != NULL; m = m->next)
        if (strcmp(m->path, path) == 0) {
            m->refs++;
            pthread_mutex_unlock(&modules_lock);
            return m;
        }
    m = xcalloc(1, sizeof(*m));
    if ((m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
        err_set(e, ERR_INTERNAL, "pkcs11_module %s: cannot load: %s", path, dlerror());
        goto fail;
    }
    *(void **)&get = dlsym(m->dl, "C_GetFunctionList");
    if (get == NULL || get(&m->f) != CKR_OK || m->f == NULL) {
        err_set(e, ERR_INTERNAL, "pkcs11_module %s: not a PKCS#11 module", path);
        goto fail;
    }
    rv = m->f->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        err_set(e, ERR_INTERNAL, "pkcs11_module %s: C_Initialize: %s (0x%lx)", path, rv_name(rv),
                (unsigned long)rv);
        goto fail;
    }
    m->path = xstrdup(path);
    m->refs = 1;
    {
        pthread_rwlockattr_t attr;

        pthread_rwlockattr_init(&attr);
        pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&m->rw, &attr);
        pthread_rwlockattr_destroy(&attr);
    }
    m->next = modules;
    modules = m;
    pthread_mutex_unlock(&modules_lock);
    return m;
fail:
    if (m->dl != NULL)
        dlclose(m->dl);
    free(m);
    pthread_mutex_unlock(&modules_lock);
    return NULL;
}

static void module_put(struct p11_module *m)
{
    struct p11_module **pp;

    if (m == NULL)
        return;
    pthread_mutex_lock(&modules_lock);
    if (--m->refs == 0) {
        for (pp = &modules; *pp != NULL; pp = &(*pp)->next)
            if (*pp == m) {
                *pp = m->next;
                break;
            }
        m->f->C_Finalize(NULL);
        /* The module stays mapped: some modules leave atexit handlers behind. */
        pthread_rwlock_destroy(&m->rw);
        free(m->path);
        free(m);
    }
    pthread_mutex_unlock(&modules_lock);
}

#define REINIT_INTERVAL 2 /* seconds between two re-initialisations of a module */

/*
 * Re-initialises module m once no call is running in it (at most every
 * REINIT_INTERVAL seconds); 1 if it did.  Call with no lock held.
 */
static int module_reinit(struct p11_module *m)
{
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_RV rv;

    if (time_now() - __atomic_load_n(&m->last_reinit, __ATOMIC_RELAXED) < REINIT_INTERVAL)
        return 0;
    pthread_rwlock_wrlock(&m->rw);
    if (time_now() - m->last_reinit < REINIT_INTERVAL) {
        pthread_rwlock_unlock(&m->rw);
        return 0;
    }
    __atomic_store_n(&m->last_reinit, time_now(), __ATOMIC_RELAXED);
    m->f->C_Finalize(NULL);
    rv = m->f->C_Initialize(&args);
    m->gen++;
    pthread_rwlock_unlock(&m->rw);
    if (rv != CKR_OK)
        log_warn("pkcs11_module %s: C_Initialize again: %s (0x%lx)", m->path, rv_name(rv),
                 (unsigned long)rv);
    else
        log_info("pkcs11_module %s: initialised again to find a missing token", m->path);
    return 1;
}

/* ---- connection and session pool ------------------------------------------- */

static void keys_clear(struct p11_store *s)
{
    struct p11_key *k, *next;

    for (k = s->keys; k != NULL; k = next) {
        next = k->next;
        EVP_PKEY_free(k->pub);
        free(k->tenant);
        free(k->key_id);
        free(k);
    }
    s->keys = NULL;
}

/* Whether the 32-byte blank-padded token label equals label. */
static int label_match(const CK_UTF8CHAR *field, const char *label)
{
    size_t n = strlen(label);

    if (n > 32 || memcmp(field, label, n) != 0)
        return 0;
    for (size_t i = n; i < 32; i++)
        if (field[i] != ' ')
            return 0;
    return 1;
}

/* The configured slot, if its token is there (and carries the label asked for); -1 with e. */
static int slot_check(struct p11_store *s, CK_SLOT_ID *slot, struct err *e)
{
    CK_TOKEN_INFO info;
    CK_RV rv = s->f->C_GetTokenInfo(s->slot_wanted, &info);

    if (rv != CKR_OK || !(info.flags & CKF_TOKEN_INITIALIZED))
        return err_set(e, ERR_UNAVAILABLE, "PKCS#11: no initialised token in slot %lu",
                       (unsigned long)s->slot_wanted);
    if (s->match_label && !label_match(info.label, s->label))
        return err_set(e, ERR_UNAVAILABLE, "PKCS#11: the token in slot %lu is not %s",
                       (unsigned long)s->slot_wanted, s->label);
    *slot = s->slot_wanted;
    return 0;
}

/* The slot holding the token labelled s->label (or the configured slot); -1 with e set. */
static int slot_find(struct p11_store *s, CK_SLOT_ID *slot, struct err *e)
{
    CK_SLOT_ID *list = NULL;
    CK_ULONG n = 0;
    CK_TOKEN_INFO info;
    CK_RV rv;
    int rc = -1;

    if (s->use_slot)
        return slot_check(s, slot, e);
    if ((rv = s->f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK)
        return rv_err(s, rv, "C_GetSlotList", e);
    list = xcalloc(n ? n : 1, sizeof(*list));
    if ((rv = s->f->C_GetSlotList(CK_TRUE, list, &n)) != CKR_OK)
        rv_err(s, rv, "C_GetSlotList", e);
    else
        err_set(e, ERR_UNAVAILABLE, "PKCS#11: no token labelled %s", s->label);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n && rc != 0; i++)
        if (s->f->C_GetTokenInfo(list[i], &info) == CKR_OK &&
            (info.flags & CKF_TOKEN_INITIALIZED) && label_match(info.label, s->label)) {
            *slot = list[i];
            rc = 0;
        }
    free(list);
    return rc;
}

/* Queues a key-store event about this token (for the audit log). */
static void token_event(struct p11_store *s, const char *action, const char *why)
{
    json_t *d = json_pack("{s:s}", "token", s->label);
    char *text;

    if (why != NULL)
        json_object_set_new(d, "reason", json_string(why));
    text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    keystore_event(action, s->label, text);
    free(text);
    json_decref(d);
}

/*
 * Closes the connection's idle sessions and forgets its handles (lock held).
 * A session another thread is using stays open until that thread gives it
 * back (sess_give closes it then): closing it under a running call (as
 * C_CloseAllSessions would) frees what that call is using, and SoftHSM2
 * crashes.
 */
static void disconnect_locked(struct p11_store *s, const char *why)
{
    if (s->connected) {
        for (int i = 0; i < s->n_idle; i++)
            s->f->C_CloseSession(s->idle[i]);
        log_warn("PKCS#11 token %s: failed: %s", s->label, why);
    }
    s->connected = 0;
    s->n_idle = 0;
    keys_clear(s);
    snprintf(s->status, sizeof(s->status), "%s", why);
    pthread_cond_broadcast(&s->idle_cv);
}

static int connect_try(struct p11_store *s, struct err *e);

/* Opens the token: pool sessions, logged in (lock held). 0 ok, -1 with e (may be NULL) set. */
static int connect_locked(struct p11_store *s, struct err *e)
{
    struct err le;

    err_clear(&le);
    if (connect_try(s, &le) == 0)
        return 0;
    if (e != NULL)
        *e = le;
    return -1;
}

static int connect_try(struct p11_store *s, struct err *e)
{
    CK_SESSION_HANDLE h;
    CK_RV rv;
    int n = 0;

    s->last_try = time_now();
    s->missing = 0;
    if (s->stale && s->stale_gen == s->mod->gen) {
        s->missing = 1; /* sess_take initialises the module again, then opens the token */
        return err_set(e, ERR_UNAVAILABLE, "PKCS#11 token %s: %s", s->label, s->status);
    }
    s->stale = 0;
    if (slot_find(s, &s->slot, e) != 0) {
        s->missing = 1;
        goto fail;
    }
    for (n = 0; n < s->pool; n++) {
        rv = s->f->C_OpenSession(s->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h);
        if (rv != CKR_OK) {
            rv_err(s, rv, "C_OpenSession", e);
            goto fail;
        }
        s->idle[n] = h;
        if (n == 0) {
            rv = s->f->C_Login(h, CKU_USER, (CK_UTF8CHAR *)s->pin, strlen(s->pin));
            if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
                rv_err(s, rv, "login", e);
                if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_LEN_RANGE)
                    e->kind = ERR_INTERNAL; /* configuration, not a passing failure */
                n++;
                goto fail;
            }
        }
    }
    s->n_idle = s->pool;
    s->connected = 1;
    s->mod_gen = s->mod->gen;
    s->epoch++;
    s->status[0] = '\0';
    pthread_cond_broadcast(&s->idle_cv);
    return 0;
fail:
    /* Only the sessions opened here: a thread may still be using one of an older connection. */
    for (int i = 0; i < n; i++)
        s->f->C_CloseSession(s->idle[i]);
    s->n_idle = 0;
    snprintf(s->status, sizeof(s->status), "%s", e->msg);
    return -1;
}

/* Opens the token if it is down and the last attempt is a second old (lock held). */
static int ensure_locked(struct p11_store *s, int force, struct err *e)
{
    if (s->connected)
        return 0;
    if (!force && time_now() - s->last_try < RECONNECT_INTERVAL)
        return err_set(e, ERR_UNAVAILABLE, "PKCS#11 token %s: unavailable: %s", s->label,
                       s->status);
    if (connect_locked(s, e) != 0) {
        if (!s->failed) /* down, not only a broken session: an event, once */
            token_event(s, "keystore.token_failed", s->status);
        s->failed = 1;
        return -1;
    }
    log_info("PKCS#11 token %s: connected again", s->label);
    if (s->failed)
        token_event(s, "keystore.token_reconnected", NULL);
    s->failed = 0;
    return 0;
}

/* Forgets a connection of an older module generation (lock and module read lock held). */
static void generation_check_locked(struct p11_store *s)
{
    if (s->connected && s->mod_gen != s->mod->gen) {
        s->connected = 0;
        s->n_idle = 0;
        keys_clear(s);
        s->last_try = 0; /* reconnect at once */
        pthread_cond_broadcast(&s->idle_cv);
    }
}

/*
 * A logged-in session of the current connection and its epoch; -1 (ERR_UNAVAILABLE) if
 * the token is down.  On success the module's read lock is held until
 * sess_give().  A token that is not found makes the module initialise again
 * (rarely: see module_reinit), then it is looked for once more.
 */
static int sess_take(struct p11_store *s, CK_SESSION_HANDLE *h, unsigned *epoch, struct err *e)
{
    int missing;

    for (int attempt = 0;; attempt++) {
        pthread_rwlock_rdlock(&s->mod->rw);
        pthread_mutex_lock(&s->lock);
        for (;;) {
            generation_check_locked(s);
            if (ensure_locked(s, attempt > 0, e) != 0)
                break;
            if (s->n_idle > 0) {
                *h = s->idle[--s->n_idle];
                *epoch = s->epoch;
                pthread_mutex_unlock(&s->lock);
                return 0;
            }
            pthread_cond_wait(&s->idle_cv, &s->lock);
        }
        missing = s->missing;
        pthread_mutex_unlock(&s->lock);
        pthread_rwlock_unlock(&s->mod->rw);
        if (attempt > 0 || !missing || !module_reinit(s->mod))
            return -1;
    }
}

/*
 * Gives a session back.  rv is the last Cryptoki result with it: one that
 * means the token failed breaks the connection (if it is still the one the
 * session came from).  A session of a connection that is gone is closed
 * here, by the one thread using it.  (The module read lock, held since
 * sess_take, kept the module from being initialised again meanwhile: the
 * handle is still the module's, not a newer session's.)
 */
static void sess_give(struct p11_store *s, CK_SESSION_HANDLE h, unsigned epoch, CK_RV rv)
{
    char why[128];
    int keep;

    pthread_mutex_lock(&s->lock);
    keep = epoch == s->epoch && s->connected;
    if (keep && rv_broken(rv)) {
        snprintf(why, sizeof(why), "%s (0x%lx)", rv_name(rv), (unsigned long)rv);
        disconnect_locked(s, why);
        keep = 0;
    }
    if (keep) {
        s->idle[s->n_idle++] = h;
        pthread_cond_signal(&s->idle_cv);
    }
    pthread_mutex_unlock(&s->lock);
    if (!keep)
        s->f->C_CloseSession(h);
    pthread_rwlock_unlock(&s->mod->rw);
}

/* ---- names and objects ------------------------------------------------------ */

static int tenant_check(const char *tenant, struct err *e)
{
    if (tenant == NULL || (!name_valid(tenant) && strcmp(tenant, "_system") != 0))
        return err_set(e, ERR_INVALID, "invalid tenant name");
    return 0;
}

static int args_check(const char *tenant, const char *key_id, struct err *e)
{
    if (tenant_check(tenant, e) != 0)
        return -1;
    if (!keystore_id_valid(key_id))
        return err_set(e, ERR_NOT_FOUND, "key not found");
    return 0;
}

/* The object label of (tenant, key_id): the tenant's namespace in a shared token. */
static void object_label(char *buf, const char *tenant, const char *key_id)
{
    snprintf(buf, LABEL_MAX, "%s/%s", tenant, key_id);
}

/*
 * The objects of class cls labelled label, at most max into out; the count,
 * or -1 with *rv set.
 */
static int objects_find(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls,
                        const char *label, CK_OBJECT_HANDLE *out, int max, CK_RV *rv)
{
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, (void *)label, strlen(label)}};
    CK_ULONG n = 0;

    if ((*rv = f->C_FindObjectsInit(h, t, 2)) != CKR_OK)
        return -1;
    *rv = f->C_FindObjects(h, out, (CK_ULONG)max, &n);
    f->C_FindObjectsFinal(h);
    return *rv == CKR_OK ? (int)n : -1;
}

/*
 * Whether the token is still in its slot, initialised: CKR_OK, or the
 * Cryptoki error (CKR_TOKEN_NOT_PRESENT for a slot without an initialised
 * token), which breaks the connection.
 */
static CK_RV token_check(struct p11_store *s)
{
    CK_TOKEN_INFO info;
    CK_RV rv = s->f->C_GetTokenInfo(s->slot, &info);

    if (rv == CKR_OK && !(info.flags & CKF_TOKEN_INITIALIZED))
        rv = CKR_TOKEN_NOT_PRESENT;
    return rv;
}

/* ---- the key cache ----------------------------------------------------------- */

/* A new reference to the cached public key of (tenant, key_id) and its handle; lock held. */
static struct p11_key *cache_find(struct p11_store *s, const char *tenant, const char *key_id)
{
    for (struct p11_key *k = s->keys; k != NULL; k = k->next)
        if (strcmp(k->tenant, tenant) == 0 && strcmp(k->key_id, key_id) == 0)
            return k;
    return NULL;
}

static void cache_drop(struct p11_store *s, const char *tenant, const char *key_id)
{
    struct p11_key **pp, *k;

    for (pp = &s->keys; (k = *pp) != NULL; pp = &k->next)
        if (strcmp(k->tenant, tenant) == 0 && strcmp(k->key_id, key_id) == 0) {
            *pp = k->next;
            EVP_PKEY_free(k->pub);
            free(k->tenant);
            free(k->key_id);
            free(k);
            return;
        }
}

/*
 * Finds (tenant, key_id) with session h of connection epoch: its private
 * object, type and public key (a new reference, caller frees).  An object
 * handle is only ever used with a session of the connection it was found
 * in: after a reconnection (or a module re-initialisation) the same number
 * may name another object.  0 ok; -1 with e set (ERR_NOT_FOUND if absent) and *rv.
 */
static int key_find(struct p11_store *s, CK_SESSION_HANDLE h, unsigned epoch, const char *tenant,
                    const char *key_id, CK_OBJECT_HANDLE *priv, enum key_type *type, EVP_PKEY **pub,
                    CK_RV *rv, struct err *e)
{
    char label[LABEL_MAX];
    CK_OBJECT_HANDLE o[2], po[2];
    struct p11_key *k;
    EVP_PKEY *p = NULL;
    int n, pn = 0;

    pthread_mutex_lock(&s->lock);
    if (s->connected && s->epoch == epoch && (k = cache_find(s, tenant, key_id)) != NULL) {
        *priv = k->priv;
        *type = k->type;
        *pub = k->pub;
        EVP_PKEY_up_ref(k->pub);
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    pthread_mutex_unlock(&s->lock);
    object_label(label, tenant, key_id);
    n = objects_find(s->f, h, CKO_PRIVATE_KEY, label, o, 2, rv);
    if (n == 1)
        pn = objects_find(s->f, h, CKO_PUBLIC_KEY, label, po, 2, rv);
    if (pn == 1)
        p = p11_pub_read(s->f, h, po[0], type, rv);
    if (n < 0 || pn < 0 || (pn == 1 && p == NULL && *rv != CKR_OK))
        return rv_err(s, *rv, "finding a key", e);
    if (n == 0 && (*rv = token_check(s)) != CKR_OK)
        return rv_err(s, *rv, "a key not found: the token", e);
    if (n == 0)
        return err_set(e, ERR_NOT_FOUND, "key not found");
    if (n > 1 || pn != 1 || p == NULL) {
        EVP_PKEY_free(p);
        return err_set(e, ERR_INTERNAL, "PKCS#11 token %s: key %s: not one usable key pair",
                       s->label, key_id);
    }
    pthread_mutex_lock(&s->lock);
    if (s->connected && s->epoch == epoch && cache_find(s, tenant, key_id) == NULL) {
        k = xcalloc(1, sizeof(*k));
        k->tenant = xstrdup(tenant);
        k->key_id = xstrdup(key_id);
        k->priv = o[0];
        k->type = *type;
        k->pub = p;
        EVP_PKEY_up_ref(p);
        k->next = s->keys;
        s->keys = k;
    }
    pthread_mutex_unlock(&s->lock);
    *priv = o[0];
    *pub = p;
    return 0;
}

/* The public key and type of (tenant, key_id); 0 ok, -1 with e set (ERR_NOT_FOUND if absent). */
static int key_lookup(struct p11_store *s, const char *tenant, const char *key_id,
                      enum key_type *type, EVP_PKEY **pub, struct err *e)
{
    CK_OBJECT_HANDLE priv;
    CK_SESSION_HANDLE h;
    CK_RV rv = CKR_OK;
    unsigned epoch;
    int rc;

    if (sess_take(s, &h, &epoch, e) != 0)
        return -1;
    rc = key_find(s, h, epoch, tenant, key_id, &priv, type, pub, &rv, e);
    sess_give(s, h, epoch, rv);
    return rc;
}

/* ---- generation and import ---------------------------------------------------- */

/* A fresh key id with no object yet under tenant (session h); NULL with e set. */
static char *new_key_id(struct p11_store *s, CK_SESSION_HANDLE h, const char *tenant, CK_RV *rv,
                        struct err *e)
{
    char label[LABEL_MAX];
    CK_OBJECT_HANDLE o;

    for (int tries = 0; tries < 4; tries++) {
        char *id = random_id("key");
        int n;

        if (id == NULL)
            break;
        object_label(label, tenant, id);
        if ((n = objects_find(s->f, h, CKO_PRIVATE_KEY, label, &o, 1, rv)) == 0)
            return id;
        free(id);
        if (n < 0) {
            rv_err(s, *rv, "finding a key", e);
            return NULL;
        }
    }
    err_set(e, ERR_INTERNAL, "CSPRNG failure");
    return NULL;
}

/* Generates the pair in the token under label/id; *pub_obj is the public object. */
static CK_RV pair_generate(struct p11_store *s, CK_SESSION_HANDLE h, enum key_type type,
                           const char *label, const char *id, CK_OBJECT_HANDLE *pub_obj)
{
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG bits = type == KEY_RSA_2048 ? 2048 : type == KEY_RSA_3072 ? 3072 : 4096;
    CK_BYTE exponent[] = {0x01, 0x00, 0x01};
    CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE priv;
    unsigned char *params = NULL;
    int plen = 0;
    CK_ATTRIBUTE pub_t[6] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, (void *)id, strlen(id)},
    };
    /* An RSA key may decrypt (SCEP's key transport, for a key of purpose "ra"; the signer
       checks the purpose); no other key type does. */
    CK_BBOOL rsa = type == KEY_RSA_2048 || type == KEY_RSA_3072 || type == KEY_RSA_4096;
    CK_ATTRIBUTE priv_t[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},     {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)}, {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_SIGN, &yes, sizeof(yes)},      {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, (void *)id, strlen(id)},   {CKA_DECRYPT, rsa ? &yes : &no, sizeof(yes)},
    };
    CK_ULONG npub = 4;
    CK_RV rv;

    if (type == KEY_RSA_2048 || type == KEY_RSA_3072 || type == KEY_RSA_4096) {
        pub_t[npub++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)};
        pub_t[npub++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)};
    } else {
        if ((params = p11_curve_params(type, &plen)) == NULL)
            return CKR_MECHANISM_INVALID;
        mech.mechanism = type == KEY_ED25519 ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN;
        pub_t[npub++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, params, (CK_ULONG)plen};
    }
    pthread_mutex_lock(&token_writes);
    rv = s->f->C_GenerateKeyPair(h, &mech, pub_t, npub, priv_t, ARRAY_LEN(priv_t), pub_obj, &priv);
    pthread_mutex_unlock(&token_writes);
    OPENSSL_free(params);
    return rv;
}

static int p11_generate(struct keystore *ks, const char *tenant, enum key_type type, char **key_id,
                        EVP_PKEY **pub, struct err *e)
{
    struct p11_store *s = (struct p11_store *)ks;
    char label[LABEL_MAX], *id = NULL;
    CK_OBJECT_HANDLE pub_obj;
    CK_SESSION_HANDLE h;
    enum key_type got = KEY_NONE;
    CK_RV rv = CKR_OK;
    unsigned epoch;
    EVP_PKEY *p = NULL;

    if (tenant_check(tenant, e) != 0 || sess_take(s, &h, &epoch, e) != 0)
        return -1;
    if ((id = new_key_id(s, h, tenant, &rv, e)) != NULL) {
        object_label(label, tenant, id);
        rv = pair_generate(s, h, type, label, id, &pub_obj);
        if (rv == CKR_OK)
            p = p11_pub_read(s->f, h, pub_obj, &got, &rv);
        else
            rv_err(s, rv, "generating a key pair", e);
    }
    sess_give(s, h, epoch, rv);
    if (id != NULL && p == NULL && rv == CKR_OK)
        err_set(e, ERR_INTERNAL, "PKCS#11 token %s: generated key unreadable", s->label);
    if (p == NULL || got != type) {
        EVP_PKEY_free(p);
        free(id);
        return -1;
    }
    *key_id = id;
    *pub = p;
    return 0;
}

/* Creates key's private and public objects under label/id (session h). */
static CK_RV pair_create(struct p11_store *s, CK_SESSION_HANDLE h, EVP_PKEY *key,
                         enum key_type type, const char *label, const char *id)
{
    CK_OBJECT_CLASS priv_c = CKO_PRIVATE_KEY, pub_c = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = type == KEY_ED25519                            ? CKK_EC_EDWARDS
                     : (type == KEY_EC_P256 || type == KEY_EC_P384) ? CKK_EC
                                                                    : CKK_RSA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t[24] = {
        {CKA_CLASS, &priv_c, sizeof(priv_c)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, (void *)id, strlen(id)},
        {CKA_DECRYPT, kt == CKK_RSA ? &yes : &no, sizeof(yes)},
    };
    CK_ATTRIBUTE pub_t[12] = {
        {CKA_CLASS, &pub_c, sizeof(pub_c)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, (void *)id, strlen(id)},
    };
    CK_ULONG nt = 10, npub = 6;
    CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE, pub;
    struct p11_vals v = {0};
    CK_RV rv;

    if (p11_key_attrs(key, type, &v, t, &nt, pub_t, &npub) != 0) {
        p11_vals_free(&v);
        ERR_clear_error();
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    pthread_mutex_lock(&token_writes);
    rv = s->f->C_CreateObject(h, t, nt, &priv);
    if (rv == CKR_OK && (rv = s->f->C_CreateObject(h, pub_t, npub, &pub)) != CKR_OK)
        s->f->C_DestroyObject(h, priv);
    pthread_mutex_unlock(&token_writes);
    p11_vals_free(&v);
    return rv;
}

int keystore_p11_put(struct keystore *ks, const char *tenant, const char *key_id, EVP_PKEY *key,
                     struct err *e)
{
    struct p11_store *s = (struct p11_store *)ks;
    enum key_type type = key_type_of(key);
    char label[LABEL_MAX];
    CK_OBJECT_HANDLE o;
    CK_SESSION_HANDLE h;
    CK_RV rv = CKR_OK;
    unsigned epoch;
    int n, rc = -1;

    if (args_check(tenant, key_id, e) != 0)
        return -1;
    if (type == KEY_NONE)
        return err_set(e, ERR_INVALID, "key: unsupported type");
    if (sess_take(s, &h, &epoch, e) != 0)
        return -1;
    object_label(label, tenant, key_id);
    if ((n = objects_find(s->f, h, CKO_PRIVATE_KEY, label, &o, 1, &rv)) < 0)
        rv_err(s, rv, "finding a key", e);
    else if (n > 0)
        err_set(e, ERR_CONFLICT, "key %s exists", key_id);
    else if ((rv = pair_create(s, h, key, type, label, key_id)) != CKR_OK)
        rv_err(s, rv, "creating the key objects", e);
    else
        rc = 0;
    sess_give(s, h, epoch, rv);
    return rc;
}

static int p11_import(struct keystore *ks, const char *tenant, EVP_PKEY *key, char **key_id,
                      struct err *e)
{
    struct p11_store *s = (struct p11_store *)ks;
    CK_SESSION_HANDLE h;
    CK_RV rv = CKR_OK;
    unsigned epoch;
    char *id;

    if (tenant_check(tenant, e) != 0 || sess_take(s, &h, &epoch, e) != 0)
        return -1;
    id = new_key_id(s, h, tenant, &rv, e);
    sess_give(s, h, epoch, rv);
    if (id == NULL || keystore_p11_put(ks, tenant, id, key, e) != 0) {
        free(id);
        return -1;
    }
    *key_id = id;
    return 0;
}

static EVP_PKEY *p11_load(struct keystore *ks, const char *tenant, const char *key_id,
                          struct err *e)
{
    struct p11_store *s = (struct p11_store *)ks;
    enum key_type type;
    EVP_PKEY *pub = NULL;

    if (args_check(tenant, key_id, e) != 0 || key_lookup(s, tenant, key_id, &type, &pub, e) != 0)
        return NULL;
    return pub;
}

static int p11_destroy(struct keystore *ks, const char *tenant, const char *key_id, struct err *e)
{
    struct p11_store *s = (struct p11_store *)ks;
    char label[LABEL_MAX];
    CK_OBJECT_HANDLE o[4];
    CK_SESSION_HANDLE h;
    CK_RV rv = CKR_OK;
    unsigned epoch;
    int n = 0, pn = 0;

    if (args_check(tenant, key_id, e) != 0 || sess_take(s, &h, &epoch, e) != 0)
        return -1;
    pthread_mutex_lock(&s->lock);
    cache_drop(s, tenant, key_id);
    pthread_mutex_unlock(&s->lock);
    object_label(label, tenant, key_id);
    pthread_mutex_lock(&token_writes);
    n = objects_find(s->f, h, CKO_PRIVATE_KEY, label, o, 4, &rv);
    for (int i = 0; i < n && rv == CKR_OK; i++)
        rv = s->f->C_DestroyObject(h, o[i]);
    if (rv == CKR_OK)
        pn = objects_find(s->f, h, CKO_PUBLIC_KEY, label, o, 4, &rv);
    for (int i = 0; i < pn && rv == CKR_OK; i++)
        rv = s->f->C_DestroyObject(h, o[i]);
    if (rv == CKR_OK && (n > 0 || pn > 0)) { /* the key's binding (p11_meta_set) */
        int dn = objects_find(s->f, h, CKO_DATA, label, o, 4, &rv);
        for (int i = 0; i < dn && rv == CKR_OK; i++)
            rv = s->f->C_DestroyObject(h, o[i]);
    }
    pthread_mutex_unlock(&token_writes);
    sess_give(s, h, epoch, rv);
    if (rv != CKR_OK)
        return rv_err(s, rv, "deleting a key", e);
    if (n == 0 && pn == 0)
        return err_set(e, ERR_NOT_FOUND, "key not found");
    return 0;
}

/*
 * A key's text (keystore.h, meta_get): a data object (CKO_DATA, private, on the token) with the
 * key's label and CKA_APPLICATION "vouch", so it goes where the key goes (token backups, the
 * second token of a pair).
 */
static int p11_meta_get(struct keystore *ks, const char *tenant, const char *key_id, char *buf,
                        size_t len, struct err *e)
{
    struct p11_store *s = (struct p11_store *)ks;
    char label[LABEL_MAX];
    CK_OBJECT_HANDLE o[2];
    CK_SESSION_HANDLE h;
    CK_RV rv = CKR_OK;
    unsigned epoch;
    int n, rc = -1;

    if (args_check(tenant, key_id, e) != 0 || sess_take(s, &h, &epoch, e) != 0)
        return -1;
    object_label(label, tenant, key_id);
    n = objects_find(s->f, h, CKO_DATA, label, o, 2, &rv);
    if (n == 1) {
        CK_ATTRIBUTE a = {CKA_VALUE, buf, len - 1};
        rv = s->f->C_GetAttributeValue(h, o[0], &a, 1);
        if (rv == CKR_OK && a.ulValueLen < len) {
            buf[a.ulValueLen] = '\0';
            rc = 0;
        } else if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL) {
            rv = CKR_OK;
            err_set(e, ERR_INTERNAL, "key %s: its binding is too long", key_id);
        }
    }
    sess_give(s, h, epoch, rv);
    if (n < 0 || rv != CKR_OK)
        return rv_err(s, rv, "reading a key's binding", e);
    if (n == 0)
        return err_set(e, ERR_NOT_FOUND, "key has no binding");
    if (n > 1)
        return err_set(e, ERR_INTERNAL, "key %s: more than one binding", key_id);
    return rc;
}

static int p11_meta_set(struct keystore *ks, const char *tenant, const char *key_id,
                        const char *text, struct err *e)
{
    struct p11_store *s = (struct p11_store *)ks;
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    char label[LABEL_MAX], app[] = "vouch";
    CK_OBJECT_HANDLE o[4], made;
    CK_SESSION_HANDLE h;
    CK_RV rv = CKR_OK;
    unsigned epoch;
    int n, keys;

    if (args_check(tenant, key_id, e) != 0 || sess_take(s, &h, &epoch, e) != 0)
        return -1;
    object_label(label, tenant, key_id);
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},          {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},        {CKA_MODIFIABLE, &no, sizeof(no)},
        {CKA_LABEL, label, strlen(label)},       {CKA_APPLICATION, app, strlen(app)},
        {CKA_VALUE, (void *)text, strlen(text)},
    };
    keys = objects_find(s->f, h, CKO_PRIVATE_KEY, label, o, 4, &rv);
    n = keys == 1 ? objects_find(s->f, h, CKO_DATA, label, o, 4, &rv) : 0;
    /* The new text first, then the old ones go: a failure between leaves two, which meta_get
     * refuses to choose between rather than falling back to none. */
    pthread_mutex_lock(&token_writes);
    if (keys == 1 && rv == CKR_OK)
        rv = s->f->C_CreateObject(h, t, sizeof(t) / sizeof(t[0]), &made);
    for (int i = 0; i < n && rv == CKR_OK; i++)
        rv = s->f->C_DestroyObject(h, o[i]);
    pthread_mutex_unlock(&token_writes);
    sess_give(s, h, epoch, rv);
    if (keys < 0 || n < 0 || rv != CKR_OK)
        return rv_err(s, rv, "writing a key's binding", e);
    if (keys != 1)
        return err_set(e, ERR_NOT_FOUND, "key not found");
    return 0;
}

#define LIST_BATCH 64

/* The ids of tenant's private keys: objects labelled "<tenant>/<valid key id>". */
static int p11_list(struct keystore *ks, const char *tenant, char **ids, int max, struct err *e)
{
    struct p11_store *s = (struct p11_store *)ks;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    CK_OBJECT_HANDLE o[LIST_BATCH];
    CK_SESSION_HANDLE h;
    CK_ULONG got = 0;
    CK_RV rv;
    unsigned epoch;
    size_t tl;
    int n = 0;

    if (tenant_check(tenant, e) != 0 || sess_take(s, &h, &epoch, e) != 0)
        return -1;
    tl = strlen(tenant);
    rv = s->f->C_FindObjectsInit(h, t, 1);
    while (rv == CKR_OK && n < max &&
           (rv = s->f->C_FindObjects(h, o, LIST_BATCH, &got)) == CKR_OK && got > 0) {
        for (CK_ULONG i = 0; i < got && n < max; i++) {
            char label[LABEL_MAX] = {0};
            CK_ATTRIBUTE a = {CKA_LABEL, label, sizeof(label) - 1};
            if (s->f->C_GetAttributeValue(h, o[i], &a, 1) != CKR_OK ||
                a.ulValueLen >= sizeof(label))
                continue;
            label[a.ulValueLen] = '\0';
            if (strncmp(label, tenant, tl) == 0 && label[tl] == '/' &&
                keystore_id_valid(label + tl + 1))
                ids[n++] = xstrdup(label + tl + 1);
        }
    }
    s->f->C_FindObjectsFinal(h);
    sess_give(s, h, epoch, rv);
    if (rv != CKR_OK) {
        while (n > 0)
            free(ids[--n]);
        return rv_err(s, rv, "listing keys", e);
    }
    return n;
}

int keystore_p11_labels(struct keystore *ks, char **labels, int max, struct err *e)
{
    struct p11_store *s = (struct p11_store *)ks;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    CK_OBJECT_HANDLE o[LIST_BATCH];
    CK_SESSION_HANDLE h;
    CK_ULONG got = 0;
    CK_RV rv;
    unsigned epoch;
    int n = 0;

    if (sess_take(s, &h, &epoch, e) != 0)
        return -1;
    rv = s->f->C_FindObjectsInit(h, t, 1);
    while (rv == CKR_OK && n < max &&
           (rv = s->f->C_FindObjects(h, o, LIST_BATCH, &got)) == CKR_OK && got > 0)
        for (CK_ULONG i = 0; i < got && n < max; i++) {
            char label[LABEL_MAX] = {0};
            CK_ATTRIBUTE a = {CKA_LABEL, label, sizeof(label) - 1};
            char *slash;
            if (s->f->C_GetAttributeValue(h, o[i], &a, 1) != CKR_OK ||
                a.ulValueLen >= sizeof(label))
                continue;
            label[a.ulValueLen] = '\0';
            if ((slash = strchr(label, '/')) != NULL && keystore_id_valid(slash + 1))
                labels[n++] = xstrdup(label);
        }
    s->f->C_FindObjectsFinal(h);
    sess_give(s, h, epoch, rv);
    if (rv != CKR_OK) {
        while (n > 0)
            free(labels[--n]);
        return rv_err(s, rv, "listing keys", e);
    }
    return n;
}

/* ---- signing ---------------------------------------------------------------------- */

/* One C_SignInit/C_Sign with key priv; the raw signature (caller frees) or NULL with *rv. */
static unsigned char *token_sign(struct p11_store *s, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE priv,
                                 CK_MECHANISM_TYPE mt, const unsigned char *in, size_t in_len,
                                 size_t *sig_len, CK_RV *rv)
{
    CK_MECHANISM mech = {mt, NULL, 0};
    unsigned char buf[1024];
    CK_ULONG n = sizeof(buf);
    unsigned char *sig;

    if ((*rv = s->f->C_SignInit(h, &mech, priv)) != CKR_OK)
        return NULL;
    if ((*rv = s->f->C_Sign(h, (CK_BYTE *)in, in_len, buf, &n)) != CKR_OK)
        return NULL;
    sig = xmalloc(n);
    memcpy(sig, buf, n);
    *sig_len = n;
    return sig;
}

/* One signing attempt; 0 ok, -1 with e set (ERR_UNAVAILABLE if the token failed). */
static int sign_once(struct p11_store *s, const char *tenant, const char *key_id, const char *md,
                     const unsigned char *data, size_t len, unsigned char **sig, size_t *sig_len,
                     struct err *e)
{
    CK_OBJECT_HANDLE priv;
    CK_SESSION_HANDLE h;
    enum key_type type;
    EVP_PKEY *pub = NULL;
    unsigned char *in = NULL, *raw = NULL;
    size_t in_len = 0, raw_len = 0;
    CK_RV rv = CKR_OK;
    unsigned epoch;
    CK_MECHANISM_TYPE mt = CKM_ECDSA;

    if (sess_take(s, &h, &epoch, e) != 0)
        return -1;
    /* The key is found with the session that signs: its handle and the session agree. */
    if (key_find(s, h, epoch, tenant, key_id, &priv, &type, &pub, &rv, e) == 0 &&
        (in = p11_sign_input(type, md, data, len, &in_len, e)) != NULL) {
        mt = type == KEY_ED25519                            ? CKM_EDDSA
             : (type == KEY_EC_P256 || type == KEY_EC_P384) ? CKM_ECDSA
                                                            : CKM_RSA_PKCS;
        if ((raw = token_sign(s, h, priv, mt, in, in_len, &raw_len, &rv)) == NULL)
            rv_err(s, rv, "signing", e);
    }
    sess_give(s, h, epoch, rv);
    EVP_PKEY_free(pub);
    free(in);
    if (raw == NULL)
        return -1;
    if (mt == CKM_ECDSA) {
        *sig = p11_ecdsa_der(raw, raw_len, sig_len);
        free(raw);
        if (*sig == NULL)
            return err_set(e, ERR_INTERNAL, "signer: ECDSA signature encoding failed");
    } else {
        *sig = raw;
        *sig_len = raw_len;
    }
    return 0;
}

/* Signs; a token failure reconnects at once and tries once more. */
static int p11_sign(struct keystore *ks, const char *tenant, const char *key_id, const char *md,
                    const unsigned char *data, size_t len, unsigned char **sig, size_t *sig_len,
                    struct err *e)
{
    struct p11_store *s = (struct p11_store *)ks;
    int rc;

    if (args_check(tenant, key_id, e) != 0)
        return -1;
    rc = sign_once(s, tenant, key_id, md, data, len, sig, sig_len, e);
    if (rc != 0 && e->kind == ERR_UNAVAILABLE) {
        pthread_rwlock_rdlock(&s->mod->rw);
        pthread_mutex_lock(&s->lock);
        generation_check_locked(s);
        rc = ensure_locked(s, 1, e);
        pthread_mutex_unlock(&s->lock);
        pthread_rwlock_unlock(&s->mod->rw);
        if (rc == 0)
            rc = sign_once(s, tenant, key_id, md, data, len, sig, sig_len, e);
    }
    return rc;
}

/* One RSA PKCS#1 v1.5 decryption (C_Decrypt, CKM_RSA_PKCS); 0 ok, -1 with e set. */
static int decrypt_once(struct p11_store *s, const char *tenant, const char *key_id,
                        const unsigned char *in, size_t len, unsigned char **out, size_t *out_len,
                        struct err *e)
{
    CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
    CK_OBJECT_HANDLE priv;
    CK_SESSION_HANDLE h;
    enum key_type type;
    EVP_PKEY *pub = NULL;
    unsigned char buf[1024];
    CK_ULONG n = sizeof(buf);
    CK_RV rv = CKR_OK;
    unsigned epoch;
    int rc = -1;

    if (sess_take(s, &h, &epoch, e) != 0)
        return -1;
    if (key_find(s, h, epoch, tenant, key_id, &priv, &type, &pub, &rv, e) != 0)
        goto out;
    if (type != KEY_RSA_2048 && type != KEY_RSA_3072 && type != KEY_RSA_4096) {
        err_set(e, ERR_INVALID, "signer: the key is not an RSA key");
        goto out;
    }
    if ((rv = s->f->C_DecryptInit(h, &mech, priv)) == CKR_OK &&
        (rv = s->f->C_Decrypt(h, (CK_BYTE *)in, len, buf, &n)) != CKR_OK &&
        (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
         rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED)) {
        /* The data's fault, not the token's: the operation was accepted (C_DecryptInit) and
           SoftHSM2 answers a bad padding with CKR_GENERAL_ERROR.  A token that died fails with
           a device or session error. */
        rv = CKR_OK;
        err_set(e, ERR_INVALID, "signer: does not decrypt");
    } else if (rv != CKR_OK) {
        rv_err(s, rv, "decrypting", e);
    } else {
        *out = xmalloc(n > 0 ? n : 1);
        memcpy(*out, buf, n);
        *out_len = n;
        rc = 0;
    }
    secure_zero(buf, sizeof(buf));
out:
    sess_give(s, h, epoch, rv);
    EVP_PKEY_free(pub);
    return rc;
}

/* Decrypts; a token failure reconnects at once and tries once more (as p11_sign). */
static int p11_decrypt(struct keystore *ks, const char *tenant, const char *key_id,
                       const unsigned char *in, size_t len, unsigned char **out, size_t *out_len,
                       struct err *e)
{
    struct p11_store *s = (struct p11_store *)ks;
    int rc;

    if (args_check(tenant, key_id, e) != 0)
        return -1;
    rc = decrypt_once(s, tenant, key_id, in, len, out, out_len, e);
    if (rc != 0 && e->kind == ERR_UNAVAILABLE) {
        pthread_rwlock_rdlock(&s->mod->rw);
        pthread_mutex_lock(&s->lock);
        generation_check_locked(s);
        rc = ensure_locked(s, 1, e);
        pthread_mutex_unlock(&s->lock);
        pthread_rwlock_unlock(&s->mod->rw);
        if (rc == 0)
            rc = decrypt_once(s, tenant, key_id, in, len, out, out_len, e);
    }
    return rc;
}

/* ---- health, open, close -------------------------------------------------------- */

/*
 * Usable as signing would use it: a logged-in session, the token in its
 * slot, and (if a key was found on this connection) that key's handle.
 */
static int p11_ping(struct keystore *ks, struct err *e)
{
    struct p11_store *s = (struct p11_store *)ks;
    CK_SESSION_HANDLE h;
    CK_SESSION_INFO info;
    CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
    CK_BBOOL can_sign = CK_FALSE;
    CK_ATTRIBUTE sign_attr = {CKA_SIGN, &can_sign, sizeof(can_sign)};
    CK_RV rv;
    unsigned epoch;

    if (sess_take(s, &h, &epoch, e) != 0)
        return -1;
    pthread_mutex_lock(&s->lock);
    if (s->epoch == epoch && s->keys != NULL)
        priv = s->keys->priv;
    pthread_mutex_unlock(&s->lock);
    rv = s->f->C_GetSessionInfo(h, &info);
    if (rv == CKR_OK && info.state != CKS_RW_USER_FUNCTIONS && info.state != CKS_RO_USER_FUNCTIONS)
        rv = CKR_USER_NOT_LOGGED_IN;
    if (rv == CKR_OK)
        rv = token_check(s);
    if (rv == CKR_OK && priv != CK_INVALID_HANDLE)
        rv = s->f->C_GetAttributeValue(h, priv, &sign_attr, 1);
    sess_give(s, h, epoch, rv);
    return rv == CKR_OK ? 0 : rv_err(s, rv, "health check", e);
}

void keystore_p11_fail(struct keystore *ks, const char *why)
{
    struct p11_store *s = (struct p11_store *)ks;

    pthread_rwlock_rdlock(&s->mod->rw);
    pthread_mutex_lock(&s->lock);
    generation_check_locked(s);
    disconnect_locked(s, why);
    s->stale = 1;
    s->stale_gen = s->mod->gen;
    s->last_try = 0; /* the next request initialises the module again at once (if due) */
    if (!s->failed)
        token_event(s, "keystore.token_failed", why);
    s->failed = 1;
    pthread_mutex_unlock(&s->lock);
    pthread_rwlock_unlock(&s->mod->rw);
}

static void p11_describe(struct keystore *ks, char *buf, size_t len)
{
    struct p11_store *s = (struct p11_store *)ks;

    pthread_mutex_lock(&s->lock);
    /* svc_metrics.c reads "token LABEL: ok" for vouch_keystore_token_up. */
    snprintf(buf, len, "token %s: %s", s->label, s->connected ? "ok" : s->status);
    pthread_mutex_unlock(&s->lock);
}

static void p11_close(struct keystore *ks)
{
    struct p11_store *s = (struct p11_store *)ks;

    if (s == NULL)
        return;
    if (s->mod != NULL) {
        pthread_rwlock_rdlock(&s->mod->rw);
        pthread_mutex_lock(&s->lock);
        if (s->connected && s->mod_gen == s->mod->gen)
            s->f->C_CloseAllSessions(s->slot);
        s->connected = 0;
        keys_clear(s);
        pthread_mutex_unlock(&s->lock);
        pthread_rwlock_unlock(&s->mod->rw);
    }
    module_put(s->mod);
    if (s->pin != NULL)
        secure_zero(s->pin, strlen(s->pin));
    free(s->pin);
    free(s->label);
    free(s->idle);
    pthread_cond_destroy(&s->idle_cv);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const struct keystore_ops p11_ops = {
    .generate = p11_generate,
    .import = p11_import,
    .load = p11_load,
    .destroy = p11_destroy,
    .ping = p11_ping,
    .close = p11_close,
    .sign = p11_sign,
    .decrypt = p11_decrypt,
    .describe = p11_describe,
    .list = p11_list,
    .meta_get = p11_meta_get,
    .meta_set = p11_meta_set,
};

struct keystore *keystore_p11_open(const struct keystore_p11_config *c, struct err *e)
{
    struct p11_store *s;
    int rc;

    if (c->module == NULL || (c->token_label == NULL && !c->use_slot) || c->pin == NULL) {
        err_set(e, ERR_INTERNAL,
                "PKCS#11 key store: pkcs11_module, pkcs11_token_label (or pkcs11_slot) and a PIN "
                "are needed");
        return NULL;
    }
    if (c->token_label != NULL && strlen(c->token_label) > 32) {
        err_set(e, ERR_INTERNAL, "PKCS#11 token label longer than 32 bytes");
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->base.ops = &p11_ops;
    s->label = c->token_label ? xstrdup(c->token_label) : xasprintf("slot %lu", c->slot);
    s->match_label = c->token_label != NULL;
    s->use_slot = c->use_slot;
    s->slot_wanted = c->slot;
    s->pin = xstrdup(c->pin);
    s->pool = c->sessions > 0 ? c->sessions : 4;
    s->idle = xcalloc((size_t)s->pool, sizeof(*s->idle));
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle_cv, NULL);
    if ((s->mod = module_get(c->module, e)) == NULL) {
        p11_close(&s->base);
        return NULL;
    }
    s->f = s->mod->f;
    pthread_rwlock_rdlock(&s->mod->rw);
    pthread_mutex_lock(&s->lock);
    rc = connect_locked(s, e);
    pthread_mutex_unlock(&s->lock);
    pthread_rwlock_unlock(&s->mod->rw);
    if (rc != 0) {
        p11_close(&s->base);
        return NULL;
    }
    return &s->base;
}
