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
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rate() { awk '/Requests\/sec/ {print $2}' "$1"; }
