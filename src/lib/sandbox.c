/* sandbox.c — the network process's seccomp filter (see sandbox.h). */
#include "lib/sandbox.h"

#include <errno.h>
#include <string.h>

#include <seccomp.h>

/* Under AddressSanitizer, LeakSanitizer stops the threads with ptrace at exit. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* Refused always: none of these is used by vouchd's network process. */
static const char *const refused[] = {
    /* other processes: tracing, reading or writing their memory, taking their descriptors */
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    /* namespaces, mounts, the root */
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "mount_setattr",
    /* file handles that reach past a mount (the classic container escape) */
    "open_by_handle_at",
    "name_to_handle_at",
    /* the kernel: modules, kexec, reboot, swap, accounting, BPF, perf, keyrings */
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "syslog",
    "quotactl",
    "lookup_dcookie",
    "personality",
    "uselib",
    "vhangup",
    "iopl",
    "ioperm",
    "modify_ldt",
    /* the clock (the TSA reads it with adjtimex, which stays allowed) */
    "settimeofday",
    "clock_settime",
    "stime",
};

/* Refused unless SANDBOX_EXEC: running another program. */
static const char *const exec_calls[] = {"execve", "execveat"};

/* Adds an EPERM rule for name if this architecture has the call; 1 added, 0 not, -1 error. */
static int refuse(scmp_filter_ctx ctx, const char *name)
{
    int nr = seccomp_syscall_resolve_name(name);

    if (nr == __NR_SCMP_ERROR)
        return 0; /* not on this architecture */
    if (UNDER_ASAN && strcmp(name, "ptrace") == 0)
        return 0;
    return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) == 0 ? 1 : -1;
}

static int rules_add(scmp_filter_ctx ctx, unsigned flags, struct err *e)
{
    int n = 0, r;

    for (size_t i = 0; i < ARRAY_LEN(refused); i++) {
        if ((r = refuse(ctx, refused[i])) < 0)
            return err_set(e, ERR_INTERNAL, "seccomp: cannot refuse %s", refused[i]);
        n += r;
    }
    for (size_t i = 0; !(flags & SANDBOX_EXEC) && i < ARRAY_LEN(exec_calls); i++) {
        if ((r = refuse(ctx, exec_calls[i])) < 0)
            return err_set(e, ERR_INTERNAL, "seccomp: cannot refuse %s", exec_calls[i]);
        n += r;
    }
    return n;
}

int sandbox_refused_count(unsigned flags)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    struct err e;
    int n;

    if (ctx == NULL)
        return -1;
    n = rules_add(ctx, flags, &e);
    seccomp_release(ctx);
    return n;
}

int sandbox_network_process(unsigned flags, struct err *e)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    int rc;

    if (ctx == NULL)
        return err_set(e, ERR_INTERNAL, "seccomp: cannot start a filter");
    /* Every thread (there may be some already: libraries start their own), and no new
       privilege (the filter needs it without CAP_SYS_ADMIN; process_protect set it too). */
    if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0 ||
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1) != 0) {
        seccomp_release(ctx);
        return err_set(e, ERR_INTERNAL, "seccomp: cannot set the filter's attributes");
    }
    if (rules_add(ctx, flags, e) < 0) {
        seccomp_release(ctx);
        return -1;
    }
    rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0)
        return err_set(e, ERR_INTERNAL, "seccomp: cannot load the filter: %s", strerror(-rc));
    return 0;
}
