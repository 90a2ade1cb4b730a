/*
 * test_api.c — the access rules of src/api and src/svc that need no server:
 * the role map, the route table's permissions, argon2id token secrets, the
 * token format and source-address allowlists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"
#include "api/api_internal.h"
#include "svc/svc.h"

static int has(const char *role, const char *permission)
{
    for (const char *const *p = api_role_permissions(role); *p != NULL; p++)
        if (strcmp(*p, permission) == 0)
            return 1;
    return 0;
}

static void role_map_gives_each_role_its_duties_only(void **state)
{
    (void)state;
    assert_true(has("tenant-admin", "profile.write"));
    assert_true(has("tenant-admin", "principal.write"));
    assert_true(has("tenant-admin", "workflow.write"));
    assert_false(has("tenant-admin", "ca.write"));
    assert_false(has("tenant-admin", "audit.read"));
    assert_true(has("tenant-admin", "acme.write"));
    assert_true(has("tenant-admin", "acme.read"));
    assert_true(has("auditor", "acme.read"));
    assert_false(has("auditor", "acme.write"));
    assert_false(has("ca-operator", "acme.write"));
    assert_false(has("requester", "acme.read"));
    assert_true(has("ca-operator", "ca.write"));
    assert_true(has("ca-operator", "crl.write"));
    assert_false(has("ca-operator", "cert.revoke"));
    assert_true(has("ra-officer", "cert.revoke"));
    assert_true(has("ra-officer", "request.approve"));
    assert_false(has("ra-officer", "ca.write"));
    assert_true(has("requester", "cert.issue"));
    assert_true(has("requester", "cert.read:own"));
    assert_false(has("requester", "cert.read"));
    assert_true(has("auditor", "audit.read"));
    for (const char *const *p = api_role_permissions("auditor"); *p != NULL; p++)
        assert_non_null(strstr(*p, ".read"));
    assert_true(has("system-admin", "system"));
    assert_false(has("system-admin", "ca.read"));
    assert_null(api_role_permissions("admin")[0]); /* no such role any more */
}

static void principal_grants_union_of_roles_and_own_scope(void **state)
{
    char *roles[] = {"requester", "auditor"};
    struct principal p = {.roles = roles, .nroles = 1};

    (void)state;
    assert_int_equal(api_principal_grants(&p, "cert.read"), 1);
    assert_int_equal(api_principal_grants(&p, "cert.issue"), 2);
    assert_int_equal(api_principal_grants(&p, "audit.read"), 0);
    p.nroles = 2;
    assert_int_equal(api_principal_grants(&p, "cert.read"), 2);
    assert_int_equal(api_principal_grants(&p, "audit.read"), 2);
    assert_int_equal(api_principal_grants(&p, "ca.write"), 0);
    assert_int_equal(api_principal_grants(NULL, "ca.read"), 0);
}

static void every_route_names_a_known_permission(void **state)
{
    const struct http_route *r;
    size_t n;
    struct err e;

    (void)state;
    r = api_routes(&n);
    assert_int_equal(api_routes_check(r, n, &e), 0);
    r = api_public_routes(&n);
    assert_int_equal(api_routes_check(r, n, &e), 0);
    assert_true(api_permission_known("request.read"));
    assert_true(api_permission_known("webhook.write"));
    assert_false(api_permission_known("cert.read:own"));
    assert_false(api_permission_known("everything"));
}

static void route_with_unknown_or_missing_permission_is_refused(void **state)
{
    const struct http_route bad[] = {{"GET", "/x", NULL, "ca.read", 0, NULL},
                                     {"GET", "/y", NULL, "ca.frobnicate", 0, NULL}};
    const struct http_route none[] = {{"GET", "/z", NULL, NULL, 0, NULL}};
    struct err e;

    (void)state;
    assert_int_equal(api_routes_check(bad, 2, &e), -1);
    assert_non_null(strstr(e.msg, "ca.frobnicate"));
    assert_int_equal(api_routes_check(none, 1, &e), -1);
    assert_non_null(strstr(e.msg, "/z"));
}

static void argon2id_secret_verifies_only_itself(void **state)
{
    char *h1 = svc_token_secret_hash("correct horse"), *h2 = svc_token_secret_hash("correct horse");

    (void)state;
    assert_non_null(h1);
    assert_non_null(h2);
    assert_int_equal(strncmp(h1, "$argon2id$", 10), 0);
    assert_string_not_equal(h1, h2); /* salted */
    assert_true(svc_token_secret_verify(h1, "correct horse"));
    assert_true(svc_token_secret_verify(h2, "correct horse"));
    assert_false(svc_token_secret_verify(h1, "correct horsf"));
    assert_false(svc_token_secret_verify(h1, ""));
    assert_false(svc_token_secret_verify(NULL, "correct horse"));
    assert_false(svc_token_secret_verify("0123abcd", "correct horse")); /* a SHA-256 row */
    h1[strlen(h1) - 2] ^= 1;                                            /* a changed hash */
    assert_false(svc_token_secret_verify(h1, "correct horse"));
    free(h1);
    free(h2);
}

static void token_splits_into_public_key_and_secret(void **state)
{
    char key[20];
    const char *secret;

    (void)state;
    secret = svc_token_split("vt_0123456789abcdef_s3cr_et-", key);
    assert_non_null(secret);
    assert_string_equal(key, "vt_0123456789abcdef");
    assert_string_equal(secret, "s3cr_et-");
    assert_null(svc_token_split("vt_0123456789abcdef_", key));
    assert_null(svc_token_split("vt_0123456789ABCDEF_x", key));
    assert_null(svc_token_split("vt_0123456789abcde_x", key));
    assert_null(svc_token_split("vouch_abc", key));
    assert_null(svc_token_split("", key));
}

static void allowlist_matches_cidrs(void **state)
{
    (void)state;
    assert_true(svc_addr_allowed("[]", "192.0.2.1"));
    assert_true(svc_addr_allowed(NULL, "192.0.2.1"));
    assert_true(svc_addr_allowed("[\"127.0.0.0/8\"]", "127.0.0.1"));
    assert_true(svc_addr_allowed("[\"127.0.0.0/8\"]", "::ffff:127.1.2.3"));
    assert_false(svc_addr_allowed("[\"127.0.0.0/8\"]", "128.0.0.1"));
    assert_true(svc_addr_allowed("[\"10.1.2.3\"]", "10.1.2.3"));
    assert_false(svc_addr_allowed("[\"10.1.2.3\"]", "10.1.2.4"));
    assert_true(svc_addr_allowed("[\"10.0.0.0/9\"]", "10.127.0.1"));
    assert_false(svc_addr_allowed("[\"10.0.0.0/9\"]", "10.128.0.1"));
    assert_true(svc_addr_allowed("[\"2001:db8::/32\"]", "2001:db8:1::5"));
    assert_false(svc_addr_allowed("[\"2001:db8::/32\"]", "2001:db9::5"));
    assert_false(svc_addr_allowed("[\"2001:db8::/32\"]", "10.0.0.1"));
    assert_false(svc_addr_allowed("[\"127.0.0.0/8\"]", NULL));
    assert_false(svc_addr_allowed("not json", "127.0.0.1"));
    assert_true(svc_addr_allowed("[\"0.0.0.0/0\"]", "203.0.113.9"));
    assert_false(svc_addr_allowed("[\"0.0.0.0/0\"]", "2001:db8::1"));
    assert_true(svc_addr_allowed("[\"::ffff:10.0.0.0/104\"]", "10.9.8.7"));
    assert_false(svc_addr_allowed("[\"10.0.0.0/33\", \"10.0.0.0/\"]", "10.0.0.1"));
    assert_false(svc_addr_allowed("[\"10.0.0.0/8\"]", "10.0.0.0/8"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(role_map_gives_each_role_its_duties_only),
        cmocka_unit_test(principal_grants_union_of_roles_and_own_scope),
        cmocka_unit_test(every_route_names_a_known_permission),
        cmocka_unit_test(route_with_unknown_or_missing_permission_is_refused),
        cmocka_unit_test(argon2id_secret_verifies_only_itself),
        cmocka_unit_test(token_splits_into_public_key_and_secret),
        cmocka_unit_test(allowlist_matches_cidrs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
