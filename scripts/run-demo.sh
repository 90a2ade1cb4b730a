#!/bin/sh
# Starts the demo instance under ./var, creating it on first start.
set -eu
cd "$(dirname "$0")/.."
if [ ! -f var/vouchd.conf ]; then
    build/vouchd init var
fi
exec build/vouchd -c var/vouchd.conf
