/*
 * sandbox.h — the system calls the network process gives up (issue 22,
 * point 3): a seccomp filter (libseccomp) that answers EPERM to what vouchd
 * never needs and an intruder would: tracing or reading other processes,
 * namespaces and mounts, kernel modules and keyrings, BPF and perf, clock and
 * reboot, file handles that escape a mount, and running programs unless
 * scheduled backups (which run tar, age, pg_dump) are configured.  Applied to
 * every thread of the process; inherited by its children.
 */
#ifndef VOUCH_LIB_SANDBOX_H
#define VOUCH_LIB_SANDBOX_H

#include "lib/util.h"

/* SANDBOX_EXEC: execve and execveat stay allowed (scheduled backups). */
enum { SANDBOX_EXEC = 1u << 0 };

/* Installs the filter on the calling process (all threads); 0, or -1 with e set. */
int sandbox_network_process(unsigned flags, struct err *e);

/* How many system calls the filter refuses (for the log line and the tests). */
int sandbox_refused_count(unsigned flags);

#endif
