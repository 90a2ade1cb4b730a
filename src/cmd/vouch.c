/* vouch — the command-line client of vouchd.  main() only dispatches (see cli/cli.h). */
#include <stdio.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv, stdout, stderr);
}
