/* vouchd — the vouch server.  main() only dispatches (see daemon.h). */
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "init") == 0)
        return daemon_init(argc - 1, argv + 1);
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: vouchd [-c FILE] [--check]\n"
               "       vouchd init DIR [--api-port N] [--public-port N] [--no-tls] [--json]\n");
        return 0;
    }
    return daemon_run(argc, argv);
}
