#!/bin/sh
# Installs the Debian 12 packages vouch builds, runs and tests with.
# Only what is missing is installed; the package lists are refreshed once first.
set -eu
PKGS="make gcc pkg-config libssl-dev openssl libmicrohttpd-dev libjansson-dev libsqlite3-dev
libcurl4-openssl-dev libcmocka-dev python3 python3-pytest python3-cryptography gnutls-bin curl
clang libclang-rt-14-dev sqlite3 ca-certificates osslsigncode libp11-kit-dev softhsm2
rsyslog rsyslog-openssl"
case "${1:-}" in
    --bench) PKGS="$PKGS golang-cfssl wrk nginx-light" ;;
esac
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages:$missing (run as root to install them)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Another apt run (unattended upgrades, a parallel install) holds the lock for a while.
apt-get -o DPkg::Lock::Timeout=600 update
apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends $missing
# rsyslog is for the SIEM tests, which start their own rsyslogd: the package's own
# service, started by the install, was not running before, so it is stopped again.
case " $missing " in
    *" rsyslog "*) service rsyslog stop >/dev/null 2>&1 || true ;;
esac
