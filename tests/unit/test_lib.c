/*
 * test_lib.c — src/lib: log lines (text and JSON, with a request's context),
 * floods of them, metrics' text, OpenSSL errors, process protection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>

#include <jansson.h>

#include "lib/log.h"
#include "lib/mail.h"
#include "lib/metrics.h"
#include "lib/sandbox.h"
#include "lib/util.h"

/* Runs fn with stderr going to a buffer; the text written (caller frees). */
static char *stderr_of(void (*fn)(void))
{
    char path[] = "/tmp/vouch-log-XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    unsigned char *data;
    struct err e;
    size_t len = 0;
    char *text;

    assert_true(fd >= 0 && saved >= 0);
    fflush(stderr);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    data = file_read(path, 1 << 20, &len, &e);
    unlink(path);
    assert_non_null(data);
    text = xstrndup((const char *)data, len);
    free(data);
    return text;
}

static int lines_in(const char *text)
{
    int n = 0;

    for (; *text != '\0'; text++)
        n += *text == '\n';
    return n;
}

static void log_forged(void)
{
    log_info("path /t/x\n2026-01-01T00:00:00Z error forged\r%s", "\x1b[31m");
}

static void a_log_line_stays_one_line_whatever_it_carries(void **state)
{
    char *text = stderr_of(log_forged);
    (void)state;
    assert_int_equal(lines_in(text), 1);
    assert_non_null(strstr(text, "path /t/x?2026-01-01T00:00:00Z error forged??[31m"));
    free(text);
}

static void log_many(void)
{
    for (int i = 0; i < 500; i++)
        log_flood(LOG_FLOOD_AUTH, LOG_INFO, "refused: number %d", i);
    log_floods_flush(1);
}

static void a_flood_of_lines_is_one_line_and_a_count(void **state)
{
    char *text = stderr_of(log_many);
    (void)state;
    assert_int_equal(lines_in(text), 2);
    assert_non_null(strstr(text, "refused: number 0\n"));
    assert_null(strstr(text, "refused: number 1\n"));
    assert_non_null(strstr(text, "499 more requests refused for want of a valid credential"));
    free(text);
}

static void log_in_a_request(void)
{
    log_info("outside");
    log_context_set("a1b2c3", "acme-corp");
    log_warn("inside \"quoted\" \xff");
    log_context_clear();
    log_info("outside again");
}

static void a_line_about_a_request_names_its_id_and_tenant(void **state)
{
    char *text = stderr_of(log_in_a_request);
    (void)state;
    assert_int_equal(lines_in(text), 3);
    assert_non_null(strstr(text, " info outside\n"));
    assert_non_null(strstr(text, " warn [a1b2c3 acme-corp] inside \"quoted\""));
    assert_non_null(strstr(text, " info outside again\n"));
    free(text);
}

static void a_json_line_is_one_object_with_time_level_request_tenant_message(void **state)
{
    char *text, *second;
    json_t *o;
    (void)state;

    log_set_format(LOG_JSON);
    text = stderr_of(log_in_a_request);
    log_set_format(LOG_TEXT);
    assert_int_equal(lines_in(text), 3);
    second = strchr(text, '\n') + 1;
    *strchr(second, '\n') = '\0';
    o = json_loads(second, 0, NULL); /* bytes that are not UTF-8 became '?' */
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(o, "request_id")), "a1b2c3");
    assert_string_equal(json_string_value(json_object_get(o, "tenant")), "acme-corp");
    assert_string_equal(json_string_value(json_object_get(o, "message")), "inside \"quoted\" ?");
    assert_non_null(json_string_value(json_object_get(o, "time")));
    json_decref(o);
    o = json_loads(text, JSON_DISABLE_EOF_CHECK, NULL); /* the first: no request */
    assert_non_null(o);
    assert_null(json_object_get(o, "request_id"));
    json_decref(o);
    free(text);
}

static void metrics_are_counted_and_written_as_prometheus_text(void **state)
{
    const char *labels[] = {"t\"1", "ca\\x", "tls\nserver"};
    struct metrics_histogram h = {0};
    struct buf b = {0};
    char *text;
    (void)state;

    metrics_add(&metrics_certs_issued, 1, labels);
    metrics_add(&metrics_certs_issued, 2, labels);
    metrics_ocsp_count(METRICS_OCSP_CACHE, METRICS_OCSP_SUCCESSFUL);
    metrics_histogram_observe(&h, 700000);      /* 0.7 ms: le 0.001 */
    metrics_histogram_observe(&h, 20000000000); /* 20 s: +Inf only */
    metrics_write(&b);
    metrics_histogram_write(&b, "x_seconds", "a=\"b\"", &h);
    buf_append(&b, "", 1);
    text = (char *)b.data;
    assert_non_null(strstr(text, "# TYPE vouch_certificates_issued_total counter\n"));
    assert_non_null(strstr(text, "vouch_certificates_issued_total{tenant=\"t\\\"1\",ca=\"ca\\\\x\","
                                 "profile=\"tls\\nserver\"} 3\n"));
    assert_non_null(
        strstr(text, "vouch_ocsp_responses_total{source=\"cache\",status=\"successful\"} 1\n"));
    assert_non_null(strstr(text, "x_seconds_bucket{a=\"b\",le=\"0.0005\"} 0\n"));
    assert_non_null(strstr(text, "x_seconds_bucket{a=\"b\",le=\"0.001\"} 1\n"));
    assert_non_null(strstr(text, "x_seconds_bucket{a=\"b\",le=\"10\"} 1\n"));
    assert_non_null(strstr(text, "x_seconds_bucket{a=\"b\",le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(text, "x_seconds_sum{a=\"b\"} 20.0007\n"));
    assert_non_null(strstr(text, "x_seconds_count{a=\"b\"} 2\n"));
    buf_free(&b);
}

static void a_family_holds_a_bounded_number_of_series(void **state)
{
    char name[32];
    const char *labels[] = {name, "ca", "p"};
    struct buf b = {0};
    (void)state;

    metrics_clear(&metrics_certs_revoked);
    for (int i = 0; i < METRICS_SERIES_MAX + 10; i++) {
        snprintf(name, sizeof(name), "tenant%d", i);
        metrics_add(&metrics_certs_revoked, 1, labels);
    }
    assert_int_equal(metrics_certs_revoked.nseries, METRICS_SERIES_MAX + 1);
    metrics_write(&b);
    buf_append(&b, "", 1);
    assert_non_null(strstr((char *)b.data, "vouch_certificates_revoked_total{tenant=\"_other\","
                                           "ca=\"_other\",profile=\"_other\"} 10\n"));
    buf_free(&b);
    metrics_clear(&metrics_certs_revoked);
}

static void a_signer_away_makes_an_openssl_failure_unavailable(void **state)
{
    struct err e;
    (void)state;
    ERR_raise_data(ERR_LIB_USER, VOUCH_OSSL_R_UNAVAILABLE, "signer: restarting");
    ERR_raise_data(ERR_LIB_ASN1, ERR_R_INTERNAL_ERROR, "on top of it");
    assert_int_equal(err_ossl(&e, ERR_INTERNAL, "certificate: signing failed"), -1);
    assert_int_equal(e.kind, ERR_UNAVAILABLE);
    assert_non_null(strstr(e.msg, "the signer is unavailable"));
    assert_int_equal(ERR_peek_error(), 0); /* drained */
    /* Control: another failure keeps the kind it was given. */
    ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "signer: bad key");
    err_ossl(&e, ERR_INTERNAL, "certificate: signing failed");
    assert_int_equal(e.kind, ERR_INTERNAL);
}

static void a_protected_process_is_not_dumpable_dumps_no_core_and_gains_no_privileges(void **s)
{
    int status;
    pid_t pid;
    (void)s;
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1); /* before: as any process */
    if ((pid = fork()) == 0) {
        struct rlimit core;
        struct err e;
        int ok = process_protect(&e) == 0 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 &&
                 prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 &&
                 getrlimit(RLIMIT_CORE, &core) == 0 && core.rlim_cur == 0 && core.rlim_max == 0;
        _exit(ok ? 0 : 1);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void a_process_that_became_a_user_cannot_become_root_again(void **state)
{
    int status;
    pid_t pid;
    (void)state;
    if (geteuid() != 0)
        skip(); /* only root can change its user */
    if ((pid = fork()) == 0) {
        struct err e;
        gid_t groups[4];
        int ok = process_identity(60124, 60125, &e) == 0 && getuid() == 60124 &&
                 geteuid() == 60124 && getgid() == 60125 && getgroups(4, groups) == 0 &&
                 setuid(0) != 0 && setgid(0) != 0;
        _exit(ok ? 0 : 1);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

#if defined(__SANITIZE_ADDRESS__)
#define TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_UNDER_ASAN 1
#endif
#endif
#ifndef TEST_UNDER_ASAN
#define TEST_UNDER_ASAN 0
#endif

/* Whether /proc/self/status says a seccomp filter is on (mode 2). */
static int seccomp_filtered(void)
{
    char *status = NULL;
    size_t len;
    struct err e;
    int on;

    if ((status = (char *)file_read("/proc/self/status", 1 << 16, &len, &e)) == NULL)
        return 0;
    status = realloc(status, len + 1);
    status[len] = '\0';
    on = strstr(status, "Seccomp:\t2") != NULL;
    free(status);
    return on;
}

/* In a child: the filter refuses what it must (EPERM) and lets the ordinary calls through. */
static int sandbox_holds(unsigned flags)
{
    char *const argv[] = {"/bin/true", NULL}, *const envp[] = {NULL};
    struct timex tx = {.modes = 0};
    struct err e;
    int fd, status;
    pid_t child;

    if (sandbox_network_process(flags, &e) != 0 || !seccomp_filtered())
        return 10;
    if (!TEST_UNDER_ASAN && (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != -1 || errno != EPERM))
        return 11;
    if (unshare(CLONE_NEWUSER) != -1 || errno != EPERM)
        return 12;
    if (mount("none", "/tmp", "tmpfs", 0, NULL) != -1 || errno != EPERM)
        return 13;
    if (syscall(SYS_bpf, 0, NULL, 0) != -1 || errno != EPERM)
        return 14;
    /* What vouchd does goes on: files, sockets, threads' clone, reading the clock's state. */
    if ((fd = open("/dev/null", O_RDONLY)) < 0)
        return 20;
    close(fd);
    if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
        return 21;
    close(fd);
    if (adjtimex(&tx) < 0)
        return 22;
    /* Running a program: only with SANDBOX_EXEC, and its child inherits the filter. */
    if ((child = fork()) == 0) {
        execve(argv[0], argv, envp);
        _exit(errno == EPERM ? 42 : 43);
    }
    if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status))
        return 30;
    if (flags & SANDBOX_EXEC)
        return WEXITSTATUS(status) == 0 ? 0 : 31;
    return WEXITSTATUS(status) == 42 ? 0 : 32;
}

static void the_network_process_sandbox_refuses_what_vouchd_never_needs(void **state)
{
    unsigned flags[] = {0, SANDBOX_EXEC};
    (void)state;
    assert_true(sandbox_refused_count(0) > sandbox_refused_count(SANDBOX_EXEC));
    assert_true(sandbox_refused_count(SANDBOX_EXEC) >= 30);
    for (size_t i = 0; i < ARRAY_LEN(flags); i++) {
        int status;
        pid_t pid = fork();
        if (pid == 0)
            _exit(sandbox_holds(flags[i]));
        assert_true(pid > 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != 0)
            fail_msg("flags %u: check %d failed", flags[i], WEXITSTATUS(status));
    }
    assert_false(seccomp_filtered()); /* the test process itself: untouched */
}

static void mail_addresses_that_could_bend_a_header_are_refused(void **state)
{
    static const char *const good[] = {"a@example.org", "first.last+tag@sub.example.com",
                                       "x_y-z@127.0.0.1.example"};
    static const char *const bad[] = {"",
                                      "no-at",
                                      "@example.org",
                                      "a@",
                                      "a@b@c",
                                      "a b@example.org",
                                      "a@example.org\r\nBcc: x@y",
                                      "<a@example.org>",
                                      "a,b@example.org",
                                      "a;b@example.org",
                                      "\"a\"@example.org",
                                      "a@[127.0.0.1]",
                                      "a\x7f@example.org",
                                      "\xc3\xa9@example.org"};
    char longest[300];
    (void)state;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(mail_address_valid(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(mail_address_valid(bad[i]));
    assert_false(mail_address_valid(NULL));
    memset(longest, 'a', sizeof(longest));
    memcpy(longest + 250, "@b.cd", 6); /* 255 characters */
    assert_false(mail_address_valid(longest));
    memcpy(longest + 249, "@b.cd", 6); /* 254 */
    assert_true(mail_address_valid(longest));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_log_line_stays_one_line_whatever_it_carries),
        cmocka_unit_test(a_flood_of_lines_is_one_line_and_a_count),
        cmocka_unit_test(a_line_about_a_request_names_its_id_and_tenant),
        cmocka_unit_test(a_json_line_is_one_object_with_time_level_request_tenant_message),
        cmocka_unit_test(metrics_are_counted_and_written_as_prometheus_text),
        cmocka_unit_test(mail_addresses_that_could_bend_a_header_are_refused),
        cmocka_unit_test(a_family_holds_a_bounded_number_of_series),
        cmocka_unit_test(a_signer_away_makes_an_openssl_failure_unavailable),
        cmocka_unit_test(a_protected_process_is_not_dumpable_dumps_no_core_and_gains_no_privileges),
        cmocka_unit_test(a_process_that_became_a_user_cannot_become_root_again),
        cmocka_unit_test(the_network_process_sandbox_refuses_what_vouchd_never_needs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
