#!/usr/bin/env bash
# Kyso daemon benchmark (issue 3): `kyso serve` over HTTP on loopback.
#
#   bash bench/daemon.sh         # from the repository root (or anywhere)
#
# In one run it measures:
#   - start-up: from spawning `kyso serve` until GET /v1/hello answers 200
#     (median of STARTS starts);
#   - idle RSS: VmRSS of a fresh daemon after IDLE seconds doing nothing, and
#     again after the load below;
#   - 1-page latency: N sequential POST /v1/sign of a 1-page PDF on one
#     keep-alive connection, login cached, origin allowed to sign without a
#     click; each request timed from sending it to reading the last byte of
#     the signed PDF (p50/p99), and documents per second;
#   - the same with 2 concurrent clients (documents per second);
#   - a 200 MB PDF streamed through POST /v1/sign with curl, wall time to the
#     last byte of the signed response (median of RUNS), against
#     `openssl dgst -sha256` of the same file in the same run, and the
#     daemon's peak RSS during each upload (VmHWM, reset before each upload
#     through /proc/PID/clear_refs); for context, `kyso sign` (the CLI) of
#     the same file in the same runs.
#   - a diagnostic, not a result: the sequential 1-page run again against a
#     daemon with TCP_NODELAY forced by a preloaded shim (bench/nodelay_shim.c,
#     built with cc when present), to show what Nagle's algorithm costs.
#
# Signed outputs (one 1-page, one 200 MB) are checked with pdfsig.
#
# Environment knobs (defaults are what docs/benchmarks.md reports):
#   N=500 STARTS=7 RUNS=5 IDLE=5 PAGES=200 CLIENTS=2
#
# Everything (token, PDFs, Kyso's config, data and job directories) lives in
# one scratch directory removed on exit; every daemon started is stopped on
# exit. SoftHSM2 gets a private config, HOME and XDG dirs point into the
# scratch directory, so the run neither touches nor depends on the machine's
# tokens, config or paired websites.
set -euo pipefail

N=${N:-500}
STARTS=${STARTS:-7}
RUNS=${RUNS:-5}
IDLE=${IDLE:-5}
PAGES=${PAGES:-200}
CLIENTS=${CLIENTS:-2}
ORIGIN=https://bench.example

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
LOAD=$REPO/bench/http_load.py


# --- Tools (installed with apt when missing, as in bench/run.sh) ---------------
need softhsm2-util softhsm2
need pkcs11-tool opensc
need openssl openssl
need curl curl
need pdfsig poppler-utils
need python3 python3
command -v cargo >/dev/null || { log "cargo not found: install Rust with rustup first"; exit 1; }
# A pyenv shim is a bash script that re-execs Python; use the real one.
PYTHON=$(command -v python3)
if command -v pyenv >/dev/null 2>&1 && pyenv which python3 >/dev/null 2>&1; then
    PYTHON=$(pyenv which python3)
fi

find_softhsm

# --- Scratch directory and daemon, cleaned on any exit ------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kyso-daemon-bench.XXXXXX")
DAEMON_PID= SHIM_PID=
stop_pid() { # stop_pid PID: SIGTERM, then SIGKILL after 5 s
    kill -TERM "$1" 2>/dev/null || true
    # Graceful shutdown is quick; do not wait forever for it.
    for _ in $(seq 1 50); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
stop_daemon() { [ -z "$DAEMON_PID" ] || stop_pid "$DAEMON_PID"; DAEMON_PID=; }
stop_shim() { [ -z "$SHIM_PID" ] || stop_pid "$SHIM_PID"; SHIM_PID=; }
cleanup() {
    local rc=$?
    stop_daemon
    stop_shim
    [ "$rc" -eq 0 ] || show_logs "$WORK" 8
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Build Kyso ---------------------------------------------------------------
log "building kyso (release)"
(cd "$REPO" && cargo build --release --quiet)
KYSO=$REPO/target/release/kyso
KYSO_VERSION=$("$KYSO" --version)

# --- Environment private to the run --------------------------------------------
mkdir -p "$WORK/home" "$WORK/tmp" "$WORK/out"
export HOME=$WORK/home
export XDG_CONFIG_HOME=$WORK/home/.config XDG_DATA_HOME=$WORK/home/.local/share
export XDG_CACHE_HOME=$WORK/home/.cache XDG_STATE_HOME=$WORK/home/.local/state
# The daemon keeps job files in a temp dir: make it this run's.
export TMPDIR=$WORK/tmp

# --- Token: RSA-2048 key and an end-entity certificate (as bench/run.sh) -------
log "making the SoftHSM2 token"
make_token "$WORK"

# --- Input PDFs ----------------------------------------------------------------
log "making the PDFs"
"$PYTHON" "$REPO/bench/make_pdfs.py" "$WORK/in" --pages "$PAGES" 2>"$WORK/make.log"
BIG=$WORK/in/scan.pdf
ONE=$WORK/in/one.pdf
BIG_BYTES=$(stat -c %s "$BIG")
ONE_BYTES=$(stat -c %s "$ONE")

# --- Daemon helpers --------------------------------------------------------------
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
SERVE_OPTS=(--token "$LABEL" --auto-sign-origin "$ORIGIN" --allow-origin "$ORIGIN")
SERVE=("$KYSO" serve --port "$PORT" "${SERVE_OPTS[@]}")
BASE=http://127.0.0.1:$PORT

wait_hello() { # wait_hello PORT PID
    for _ in $(seq 1 400); do
        if curl -fsS -o /dev/null -H 'X-Kyso-Request: 1' "http://127.0.0.1:$1/v1/hello" 2>/dev/null; then
            return 0
        fi
        kill -0 "$2" 2>/dev/null || { log "kyso serve exited"; exit 1; }
        sleep 0.05
    done
    log "kyso serve did not answer within 20 s"
    exit 1
}
start_daemon() { # starts the daemon in the background and waits for /v1/hello
    "${SERVE[@]}" </dev/null >/dev/null 2>>"$WORK/daemon.log" &
    DAEMON_PID=$!
    wait_hello "$PORT" "$DAEMON_PID"
}
kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; } # kb PID VmRSS
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k * 1024 / 1e6}'; }  # kB -> MB (10^6)

median() { # median of the numbers on stdin
    sort -g | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; print m}'
}
range() { # min–max of the numbers on stdin, with printf format $1
    sort -g | awk -v f="$1" 'NR==1 {lo=$1} {hi=$1} END {printf f "–" f, lo, hi}'
}
jget() { "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN {printf f, v}'; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 1. Start-up time --------------------------------------------------------------
log "start-up: $STARTS starts (after one untimed)"
"$PYTHON" "$LOAD" startup --runs 1 --port "$PORT" -- "${SERVE[@]}" >/dev/null
"$PYTHON" "$LOAD" startup --runs "$STARTS" --port "$PORT" -- "${SERVE[@]}" >"$WORK/startup.ms"
STARTUP_MS=$(median <"$WORK/startup.ms")
STARTUP_RANGE=$(range %.1f <"$WORK/startup.ms")

# --- 2. Idle RSS of a fresh daemon -------------------------------------------------
log "idle RSS: fresh daemon, $IDLE s idle"
start_daemon
sleep "$IDLE"
IDLE_KB=$(kb "$DAEMON_PID" VmRSS)
IDLE_HWM_KB=$(kb "$DAEMON_PID" VmHWM)
THREADS=$(kb "$DAEMON_PID" Threads)

# --- 3. Login once through the consent page, then the 1-page load --------------------
log "login through the consent page"
"$PYTHON" "$LOAD" login --port "$PORT" --origin "$ORIGIN" --pdf "$ONE" --pin "$PIN" 2>>"$WORK/client.log"

log "1-page: $N sequential requests on one keep-alive connection (after 50 untimed)"
"$PYTHON" "$LOAD" sign --port "$PORT" --origin "$ORIGIN" --pdf "$ONE" -n "$N" --warmup 50 \
    --save "$WORK/out/one.signed.pdf" >"$WORK/seq.json"
log "1-page: $N requests from $CLIENTS concurrent clients"
"$PYTHON" "$LOAD" sign --port "$PORT" --origin "$ORIGIN" --pdf "$ONE" -n "$N" \
    --clients "$CLIENTS" >"$WORK/conc.json"
LOAD_HWM_KB=$(kb "$DAEMON_PID" VmHWM)
sleep "$IDLE"
AFTER_KB=$(kb "$DAEMON_PID" VmRSS)

pdfsig "$WORK/out/one.signed.pdf" >"$WORK/pdfsig.log" 2>&1 || true
grep -q 'Signature is Valid' "$WORK/pdfsig.log" || { log "1-page: signature does not verify"; cat "$WORK/pdfsig.log" >&2; exit 1; }

# Diagnostic, not a result of Kyso as shipped: the same sequential run
# against a second daemon with TCP_NODELAY forced on its connections by a
# preloaded shim (bench/nodelay_shim.c). Skipped without a C compiler.
SHIM_JSON=
if command -v cc >/dev/null 2>&1 \
    && cc -shared -fPIC -O2 -o "$WORK/nodelay_shim.so" "$REPO/bench/nodelay_shim.c" -ldl 2>"$WORK/cc.log"; then
    log "diagnostic: 1-page, $N sequential requests, daemon with TCP_NODELAY (preloaded shim)"
    PORT2=$(free_port)
    env LD_PRELOAD="$WORK/nodelay_shim.so" "$KYSO" serve --port "$PORT2" "${SERVE_OPTS[@]}" \
        </dev/null >/dev/null 2>>"$WORK/daemon-shim.log" &
    SHIM_PID=$!
    wait_hello "$PORT2" "$SHIM_PID"
    "$PYTHON" "$LOAD" login --port "$PORT2" --origin "$ORIGIN" --pdf "$ONE" --pin "$PIN" 2>>"$WORK/client.log"
    "$PYTHON" "$LOAD" sign --port "$PORT2" --origin "$ORIGIN" --pdf "$ONE" -n "$N" --warmup 50 >"$WORK/shim.json"
    stop_shim
    SHIM_JSON=$WORK/shim.json
else
    log "no C compiler: skipping the TCP_NODELAY diagnostic"
fi

# --- 4. The 200 MB upload against openssl dgst -------------------------------------
# curl -T streams the file (--data-binary @FILE would first read it whole
# into curl's memory); -X POST keeps the method; an empty Expect header stops
# curl from waiting for "100 Continue". The response goes to /dev/null in the
# timed runs; the warm-up's goes to a file, whose signature is checked.
upload() { # upload OUTFILE -> prints "http_code"
    curl -sS -X POST -T "$BIG" -H 'Expect:' -H 'X-Kyso-Request: 1' -H "Origin: $ORIGIN" \
        -H 'Content-Type: application/pdf' -o "$1" -w '%{http_code}' "$BASE/v1/sign"
}
log "200 MB: warm-up upload"
cat "$BIG" >/dev/null
openssl dgst -sha256 "$BIG" >/dev/null
code=$(upload "$WORK/out/big.signed.pdf")
[ "$code" = 200 ] || { log "200 MB upload: HTTP $code"; exit 1; }
pdfsig "$WORK/out/big.signed.pdf" >"$WORK/pdfsig.log" 2>&1 || true
grep -q 'Signature is Valid' "$WORK/pdfsig.log" || { log "200 MB: signature does not verify"; cat "$WORK/pdfsig.log" >&2; exit 1; }
rm -f "$WORK/out/big.signed.pdf"

# For context, `kyso sign` (the CLI) of the same file in the same runs: the
# same signing code without HTTP, writing the signed copy once.
printf '%s\n' "$PIN" >"$WORK/pin"
cli_sign() {
    rm -f "$WORK/out/cli.pdf"
    "$KYSO" sign "$BIG" -o "$WORK/out/cli.pdf" --pin-stdin --token "$LABEL" <"$WORK/pin" >/dev/null 2>>"$WORK/cli.log"
}
cli_sign
: >"$WORK/openssl.s"; : >"$WORK/upload.s"; : >"$WORK/upload.hwm"; : >"$WORK/cli.s"
LOAD_BIG_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$RUNS"); do
    log "200 MB: run $r/$RUNS"
    sync
    t0=$(date +%s%N)
    openssl dgst -sha256 "$BIG" >/dev/null
    t1=$(date +%s%N)
    echo "$t0 $t1" | awk '{printf "%.4f\n", ($2 - $1) / 1e9}' >>"$WORK/openssl.s"
    sync
    # Peak RSS of this upload only: "5" resets VmHWM to the current RSS.
    echo 5 >"/proc/$DAEMON_PID/clear_refs"
    t0=$(date +%s%N)
    code=$(upload /dev/null)
    t1=$(date +%s%N)
    [ "$code" = 200 ] || { log "200 MB upload: HTTP $code"; exit 1; }
    echo "$t0 $t1" | awk '{printf "%.4f\n", ($2 - $1) / 1e9}' >>"$WORK/upload.s"
    kb "$DAEMON_PID" VmHWM >>"$WORK/upload.hwm"
    sync
    t0=$(date +%s%N)
    cli_sign
    t1=$(date +%s%N)
    echo "$t0 $t1" | awk '{printf "%.4f\n", ($2 - $1) / 1e9}' >>"$WORK/cli.s"
done
rm -f "$WORK/out/cli.pdf"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
stop_daemon

# --- Report -----------------------------------------------------------------------
verdict() { awk -v v="$1" -v lim="$2" -v dir="${3:-le}" \
    'BEGIN {ok = (dir == "ge") ? (v >= lim) : (v <= lim); print ok ? "met" : "**MISSED**"}'; }
OPENSSL_S=$(median <"$WORK/openssl.s")
UPLOAD_S=$(median <"$WORK/upload.s")
CLI_S=$(median <"$WORK/cli.s")
RATIO=$(awk -v a="$UPLOAD_S" -v b="$OPENSSL_S" 'BEGIN {printf "%.2f", a / b}')
PEAK_KB=$(sort -n "$WORK/upload.hwm" | tail -n 1)
P50=$(jget "$WORK/seq.json" p50_ms); P99=$(jget "$WORK/seq.json" p99_ms)
DPS=$(jget "$WORK/seq.json" docs_per_s); CDPS=$(jget "$WORK/conc.json" docs_per_s)
CP50=$(jget "$WORK/conc.json" p50_ms); CP99=$(jget "$WORK/conc.json" p99_ms)
CPU=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
MEM=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
FS=$(df -T "$WORK" | awk 'NR==2 {print $2}')

cat <<EOF

### Results — $(date +%Y-%m-%d)

Command: \`bash bench/daemon.sh\` (N=$N, CLIENTS=$CLIENTS, STARTS=$STARTS, RUNS=$RUNS, IDLE=$IDLE, PAGES=$PAGES)

- Machine: $(nproc) CPUs, $CPU, $MEM RAM, $(uname -sr), scratch on $FS
- Load average at start / before the 200 MB runs / at the end: $LOAD_START / $LOAD_BIG_BEFORE / $LOAD_END
- $KYSO_VERSION; $(openssl version | cut -d' ' -f1-2); SoftHSM2 $(softhsm2-util --version); curl $(curl --version | head -n 1 | cut -d' ' -f2); client Python $("$PYTHON" -c 'import platform; print(platform.python_version())') http.client
- 1-page PDF: $ONE_BYTES bytes; large PDF: $(mb "$((BIG_BYTES / 1024))") MB ($PAGES pages), in page cache

| Measure | Target | Result | |
|---|---|---:|---|
| Start-up, spawn → \`GET /v1/hello\` 200 (median of $STARTS; range) | ≤ 100 ms | $(fmt "$STARTUP_MS" %.1f) ms ($STARTUP_RANGE) | $(verdict "$STARTUP_MS" 100) |
| Idle RSS, fresh daemon after ${IDLE} s (VmRSS) | ≤ 15 MB | $(mb "$IDLE_KB") MB | $(verdict "$(mb "$IDLE_KB")" 15) |
| 1-page \`POST /v1/sign\`, login cached, p50 (1 client, keep-alive, $N requests) | ≤ 10 ms | $(fmt "$P50" %.2f) ms | $(verdict "$P50" 10) |
| … p99 | — | $(fmt "$P99" %.2f) ms | |
| Documents per second, 1 client sequential | ≥ 100/s | $(fmt "$DPS" %.0f)/s | $(verdict "$DPS" 100 ge) |
| Documents per second, $CLIENTS concurrent clients (p50 / p99 $(fmt "$CP50" %.2f) / $(fmt "$CP99" %.2f) ms) | ≥ 100/s | $(fmt "$CDPS" %.0f)/s | $(verdict "$CDPS" 100 ge) |
| 200 MB \`POST /v1/sign\` (curl, to the last byte of the signed PDF; median of $RUNS; range) | — | $(fmt "$UPLOAD_S" %.3f) s ($(range %.2f <"$WORK/upload.s") s) | |
| \`openssl dgst -sha256\` of the same file (median of $RUNS; range) | — | $(fmt "$OPENSSL_S" %.3f) s ($(range %.2f <"$WORK/openssl.s") s) | |
| 200 MB upload ÷ openssl | ≤ 2.5× | ${RATIO}× | $(verdict "$RATIO" 2.5) |
| *Context:* \`kyso sign\` CLI, same file (median of $RUNS; range) | — | $(fmt "$CLI_S" %.3f) s ($(range %.2f <"$WORK/cli.s") s), $(awk -v a="$CLI_S" -v b="$OPENSSL_S" 'BEGIN {printf "%.2f", a / b}')× openssl | |
| Daemon peak RSS during a 200 MB upload (VmHWM, highest of $RUNS) | ≤ 64 MB | $(mb "$PEAK_KB") MB | $(verdict "$(mb "$PEAK_KB")" 64) |
$(if [ -n "$SHIM_JSON" ]; then
    printf '| *Diagnostic:* 1-page p50 / p99 / docs per second, 1 client, daemon with TCP_NODELAY forced (preloaded shim, not Kyso as shipped) | — | %s / %s ms, %s/s | |\n' \
        "$(fmt "$(jget "$SHIM_JSON" p50_ms)" %.2f)" "$(fmt "$(jget "$SHIM_JSON" p99_ms)" %.2f)" "$(fmt "$(jget "$SHIM_JSON" docs_per_s)" %.0f)"
fi)

Also: fresh daemon VmHWM $(mb "$IDLE_HWM_KB") MB, $THREADS threads; VmHWM after the 1-page runs $(mb "$LOAD_HWM_KB") MB; VmRSS ${IDLE} s after the 1-page runs $(mb "$AFTER_KB") MB.
EOF
