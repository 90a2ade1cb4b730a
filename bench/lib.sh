# bench/lib.sh — sourced by the benchmark scripts: a work directory and the
# processes listed in `pids`, both gone when the script exits; a free loopback
# port; the rate wrk printed.
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
port() { python3 "$(dirname "${BASH_SOURCE[0]}")/../scripts/free-port.py"; }
rate() { awk '/Requests\/sec/ {print $2}' "$1"; }
# vouchd_start NAME THREADS: `vouchd init` in $work/NAME on free ports, then vouchd with
# THREADS handler threads, waited for; sets api, pub (its ports) and token (admin of default).
vouchd_start() {
    local info
    api=$(port)
    pub=$(port)
    info=$(build/vouchd init "$work/$1" --api-port "$api" --public-port "$pub" --no-tls --json)
    echo "threads = $2" >>"$work/$1/vouchd.conf"
    token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["admin_token"])' "$info")
    build/vouchd -c "$work/$1/vouchd.conf" >"$work/$1.out" 2>"$work/$1.log" &
    pids+=($!)
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$api/healthz" >/dev/null && break; sleep 0.1; done
}
