/*
 * signer_keeper.c — the keeper: a small process, forked at start before any
 * thread exists, whose only work is to fork signer processes on request.
 *
 * A signer restarted by the network process itself would be forked from a
 * process full of threads (a lock held by another thread at the fork stays
 * held for ever in the child), and would need the PKCS#11 PIN, which the
 * network process forgets once the first signer has it.  The keeper has one
 * thread and keeps the configuration and the PIN it was forked with.
 *
 * Its control connection carries one byte per request (KEEPER_SPAWN); the
 * answer is one message: the new signer's pid in its data and the network
 * process's ends of its connections as SCM_RIGHTS.  A spawn first kills the
 * signer it made before, if that one still runs (a hung signer), and reaps
 * it; dead signers are reaped every second, so none stays a zombie.  When
 * the control connection closes (vouchd stops or dies) the keeper waits a
 * little for its signer to see its connections close and exit, kills it if
 * it does not, and exits.
 */
#include "keys/signer_internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"

#define KEEPER_SPAWN     'S'
#define STOP_GRACE_TICKS 50 /* of 100 ms: how long a signer may take to exit at the end */

/* Reaps signer child (if it ended); 1 if it is gone (or was never there). */
static int child_gone(pid_t *child)
{
    pid_t r;

    if (*child <= 0)
        return 1;
    while ((r = waitpid(*child, NULL, WNOHANG)) < 0 && errno == EINTR)
        ;
    if (r == *child || (r < 0 && errno == ECHILD)) {
        *child = -1;
        return 1;
    }
    return 0;
}

static void child_kill(pid_t *child)
{
    if (*child <= 0)
        return;
    kill(*child, SIGKILL);
    while (waitpid(*child, NULL, 0) < 0 && errno == EINTR)
        ;
    *child = -1;
}

/* Sends pid and the n descriptors over ctl; -1 if it failed. */
static int spawn_answer(int ctl, pid_t pid, const int *fds, int n)
{
    size_t space = CMSG_SPACE((size_t)n * sizeof(int));
    char *control = xcalloc(1, space);
    int32_t value = (int32_t)pid;
    struct iovec iov = {.iov_base = &value, .iov_len = sizeof(value)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *cm;
    ssize_t sent;

    if (n > 0) {
        msg.msg_control = control;
        msg.msg_controllen = space;
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, (size_t)n * sizeof(int));
    }
    while ((sent = sendmsg(ctl, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    free(control);
    return sent == (ssize_t)sizeof(value) ? 0 : -1;
}

/* Forks a signer with n new connections and answers ctl; the pid, or -1 (answered pid 0). */
static pid_t spawn(const struct signer_config *cfg, int ctl, int n)
{
    int *ours = xcalloc((size_t)n, sizeof(int)), *theirs = xcalloc((size_t)n, sizeof(int));
    pid_t pid = -1;
    int made = 0;

    for (; made < n; made++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            break;
        theirs[made] = sv[0];
        ours[made] = sv[1];
    }
    if (made == n && (pid = fork()) == 0) {
        close(ctl);
        for (int i = 0; i < n; i++)
            close(theirs[i]);
        signer_child_main(cfg, ours, n); /* never returns */
    }
    for (int i = 0; i < made; i++)
        close(ours[i]);
    if (spawn_answer(ctl, pid > 0 ? pid : 0, theirs, pid > 0 ? n : 0) != 0 && pid > 0) {
        kill(pid, SIGKILL); /* no one to serve */
        waitpid(pid, NULL, 0);
        pid = -1;
    }
    for (int i = 0; i < made; i++)
        close(theirs[i]);
    free(ours);
    free(theirs);
    return pid;
}

/* The keeper's life: serves spawn requests on ctl until it closes, then _exit()s. */
static void keeper_main(const struct signer_config *cfg, int ctl, int n)
{
    pid_t child = -1;
    struct err e;
    int ticks;

    signal(SIGINT, SIG_IGN); /* vouchd decides when we stop: by closing ctl */
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NAME, "vouch-keeper"); /* what ps and top show the operator */
    signer_fds_close_others(&ctl, 1);
    if (cfg->run_as && process_identity(cfg->uid, cfg->gid, &e) != 0) {
        log_error("signer keeper: %s", e.msg);
        _exit(1); /* never a signer as root: every spawn fails, vouchd says why */
    }
    if (process_protect(&e) != 0) /* it holds the configuration, maybe the PIN */
        log_error("signer keeper: %s", e.msg);
    for (;;) {
        struct pollfd p = {.fd = ctl, .events = POLLIN};
        char cmd;
        ssize_t got;
        int ready = poll(&p, 1, 1000);

        child_gone(&child);
        if (ready <= 0)
            continue;
        while ((got = read(ctl, &cmd, 1)) < 0 && errno == EINTR)
            ;
        if (got <= 0)
            break;
        if (cmd != KEEPER_SPAWN)
            continue;
        child_kill(&child);
        child = spawn(cfg, ctl, n);
    }
    for (ticks = 0; ticks < STOP_GRACE_TICKS && !child_gone(&child); ticks++)
        usleep(100 * 1000);
    child_kill(&child);
    _exit(0);
}

pid_t signer_keeper_start(const struct signer_config *cfg, int n, int *ctl, struct err *e)
{
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return err_set(e, ERR_INTERNAL, "signer: socketpair: %s", strerror(errno));
    if ((pid = fork()) < 0) {
        close(sv[0]);
        close(sv[1]);
        return err_set(e, ERR_INTERNAL, "signer: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(sv[0]);
        keeper_main(cfg, sv[1], n);
    }
    close(sv[1]);
    *ctl = sv[0];
    return pid;
}

int signer_keeper_spawn(int ctl, int timeout_seconds, pid_t *pid, int *fds, int n, struct err *e)
{
    size_t space = CMSG_SPACE((size_t)n * sizeof(int));
    char *control = xcalloc(1, space), cmd = KEEPER_SPAWN;
    int32_t value = 0;
    struct iovec iov = {.iov_base = &value, .iov_len = sizeof(value)};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = space};
    struct pollfd p = {.fd = ctl, .events = POLLIN};
    struct cmsghdr *cm;
    ssize_t got = -1;
    int rc = -1;

    if (send(ctl, &cmd, 1, MSG_NOSIGNAL) != 1) {
        err_set(e, ERR_UNAVAILABLE, "the signer's keeper is gone: %s", strerror(errno));
    } else if (poll(&p, 1, timeout_seconds * 1000) <= 0) {
        err_set(e, ERR_UNAVAILABLE, "the signer's keeper did not answer");
    } else if ((got = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC)) != (ssize_t)sizeof(value)) {
        err_set(e, ERR_UNAVAILABLE, "the signer's keeper is gone");
    } else if (value <= 0 || (cm = CMSG_FIRSTHDR(&msg)) == NULL || cm->cmsg_type != SCM_RIGHTS ||
               cm->cmsg_len != CMSG_LEN((size_t)n * sizeof(int))) {
        err_set(e, ERR_UNAVAILABLE, "the signer's keeper could not start a signer");
    } else {
        memcpy(fds, CMSG_DATA(cm), (size_t)n * sizeof(int));
        *pid = (pid_t)value;
        rc = 0;
    }
    free(control);
    return rc;
}
