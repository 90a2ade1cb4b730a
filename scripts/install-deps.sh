#!/bin/sh
# Installs the Debian 12 packages vouch builds, runs and tests with.
# Only what is missing is installed; the package lists are refreshed once first.
#   install-deps.sh          building, running and every test (make test)
#   install-deps.sh --run    building and running only (make run; python3 for make install)
#   install-deps.sh --bench  all of the first, and the benchmarks' tools (make bench)
set -eu
RUN="make gcc pkg-config libssl-dev openssl libmicrohttpd-dev libjansson-dev libsqlite3-dev age
libcurl4-openssl-dev libc-ares-dev libp11-kit-dev libpq-dev libargon2-dev libgnutls28-dev
libgfshare-dev libsystemd-dev libseccomp-dev ca-certificates softhsm2 python3"
# pebble brings pebble-challtestsrv, the DNS server of the ACME validation unit tests; mandoc
# and man-db check the man pages (tests/integration/test_install.py); strongSwan's pki is an EST
# and SCEP client (tests/integration/test_est.py, test_scep.py), as is certmonger on a session
# bus of its own (dbus-daemon); prometheus brings promtool, which checks /metrics
# (tests/integration/test_metrics.py); python3-pyasn1-modules builds the CMP messages openssl
# cmp 3.0 cannot send (tests/integration/test_cmp.py); python3-aiosmtpd is the SMTP server that
# receives expiry notices (tests/integration/test_notices.py); chromium, chromium-driver and
# python3-selenium load the web console in a real browser (tests/integration/test_console.py);
# nodejs (with npm) runs Redocly's OpenAPI linter, installed from tools/openapi's lockfile, and
# python3-jsonschema checks real answers against that description (tests/integration/test_openapi.py).
TEST="libcmocka-dev python3-pytest python3-cryptography python3-pyasn1-modules gnutls-bin curl
mandoc man-db
clang libclang-rt-14-dev sqlite3 osslsigncode
rsyslog rsyslog-openssl postgresql haproxy postgresql-15-auto-failover
pebble lego certbot prometheus systemd
strongswan-pki libstrongswan-extra-plugins libstrongswan-standard-plugins certmonger dbus-daemon
python3-aiosmtpd python3-jsonschema nodejs
chromium chromium-driver python3-selenium"
case "${1:-}" in
    --run) PKGS="$RUN" ;;
    --bench) PKGS="$RUN $TEST golang-cfssl wrk nginx-light iproute2" ;;
    "") PKGS="$RUN $TEST" ;;
    *) echo "usage: install-deps.sh [--run | --bench]" >&2; exit 2 ;;
esac
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# The npm tools of the tests, exactly as the lockfile says (`npm ci`), after the packages.
npm_tools() {
    [ "$PKGS" = "$RUN" ] && return 0
    command -v npm >/dev/null 2>&1 || return 0
    (cd "$(dirname "$0")/../tools/openapi" && npm ci --no-audit --no-fund --loglevel=error)
}
if [ -z "$missing" ]; then
    npm_tools
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages:$missing (run as root to install them)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Another apt run (unattended upgrades, a parallel install) holds the lock for a while.
apt-get -o DPkg::Lock::Timeout=600 update
# Debian's postgresql package creates and starts a cluster (15/main on port 5432); vouch's
# tests start servers of their own, and an operator points vouchd at a server of theirs.  A
# policy-rc.d made here (unless there is one) keeps the install from starting anything, and
# the cluster is stopped and kept from starting at boot if it runs anyway.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    policy=1
fi
rc=0
apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends $missing || rc=$?
if [ -n "$policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
        pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true
        if [ -f "/etc/postgresql/$ver/$name/start.conf" ]; then
            echo manual >"/etc/postgresql/$ver/$name/start.conf"
        fi
    done
fi
# rsyslog is for the SIEM tests, which start their own rsyslogd: the package's own
# service is not to run (the policy above kept the install from starting it).
case " $missing " in
    *" rsyslog "*) service rsyslog stop >/dev/null 2>&1 || true ;;
esac
# haproxy is for the local cluster (deploy/cluster.sh), which starts its own haproxy.
case " $missing " in
    *" haproxy "*) service haproxy stop >/dev/null 2>&1 || true ;;
esac
# prometheus is for promtool: the Prometheus server of the package is not to run.
case " $missing " in
    *" prometheus "*) service prometheus stop >/dev/null 2>&1 || true ;;
esac
[ "$rc" -eq 0 ] && npm_tools
exit $rc
