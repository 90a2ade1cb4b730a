/* daemon.h — vouchd's two jobs: initialise a demo instance, and serve. */
#ifndef VOUCH_DAEMON_H
#define VOUCH_DAEMON_H

/*
 * `vouchd init DIR [--api-port N] [--public-port N] [--no-tls] [--json]`:
 * creates DIR with a configuration, a key-encryption secret, a SQLite
 * database, the `default` tenant with a root CA, an issuing CA and the
 * built-in profiles, a TLS certificate for the API, and prints the system and
 * admin API tokens once.  Returns the process exit code.
 */
int daemon_init(int argc, char **argv);

/* `vouchd [-c FILE] [--check]`: serves until SIGINT/SIGTERM.  Exit code. */
int daemon_run(int argc, char **argv);

#endif
