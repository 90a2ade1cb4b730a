#!/bin/sh
# Starts the demo instance under ./var, creating it on first start.
# VOUCH_DEMO_KEYSTORE=softhsm (on first start): the CA keys go into a SoftHSM2
# token made under var/softhsm (SOFTHSM2_CONF points there on every start).
set -eu
cd "$(dirname "$0")/.."
hsm=$PWD/var/softhsm
if [ ! -f var/vouchd.conf ]; then
    if [ "${VOUCH_DEMO_KEYSTORE:-soft}" = softhsm ]; then
        mkdir -p "$hsm/tokens" && chmod 700 "$hsm"
        printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
            "$hsm/tokens" > "$hsm/softhsm2.conf"
        export SOFTHSM2_CONF="$hsm/softhsm2.conf"
        pin=$(openssl rand -hex 8)
        (umask 077 && echo "$pin" > "$hsm/pin")
        softhsm2-util --init-token --free --label vouch-demo --pin "$pin" \
            --so-pin "$(openssl rand -hex 8)" >/dev/null
        build/vouchd init var --pkcs11-module /usr/lib/softhsm/libsofthsm2.so \
            --pkcs11-token vouch-demo --pkcs11-pin-file "$hsm/pin"
    else
        build/vouchd init var
    fi
fi
[ -f "$hsm/softhsm2.conf" ] && export SOFTHSM2_CONF="$hsm/softhsm2.conf"
exec build/vouchd -c var/vouchd.conf
