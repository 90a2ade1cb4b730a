/* vouchd — the vouch server.  main() only dispatches (see daemon.h). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/daemon.h"

int main(int argc, char **argv)
{
    /* Every file vouchd makes (database, keys, exports, init's files) is 0600, directory 0700. */
    umask(077);
    if (argc > 1 && strcmp(argv[1], "init") == 0)
        return daemon_init(argc - 1, argv + 1);
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: vouchd [-c FILE] [--check]\n"
               "       vouchd init DIR [--api-port N] [--public-port N] [--no-tls] [--json]\n");
        return 0;
    }
    return daemon_run(argc, argv);
}
