#!/usr/bin/env bash
# What the usage log costs: 1-page signing throughput with the log on and
# off, in the same run, on the same token and files (issue 4).
#
#   bash bench/usage_log.sh            # from anywhere
#
# Environment knobs:
#   RUNS=7      timed runs per mode, interleaved on/off; medians are reported
#   BATCH=200   1-page documents per batch run
#   TMPDIR      where the scratch directory goes; inputs, outputs and the log
#               database share this filesystem, so its fsync is what is measured
#
# "Off" uses KYSO_USAGE_LOG=off, which only a build with the `bench` feature
# honours (release builds ignore it, so users cannot switch the record off).
# "On" is the shipped behaviour: every entry committed with synchronous=FULL
# in WAL mode (one fsync of the WAL) before its signed file is renamed into
# place. Runs alternate on/off so drift in the machine hits both alike.
set -euo pipefail

RUNS=${RUNS:-7}
BATCH=${BATCH:-200}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

for tool in softhsm2-util pkcs11-tool openssl python3; do
    command -v "$tool" >/dev/null || { log "$tool missing: bash packaging/debian/install-deps.sh --test"; exit 1; }
done
find_softhsm

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kyso-logbench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

log "building kyso (release, --features bench)"
(cd "$REPO" && cargo build --release --quiet --features bench --target-dir "$REPO/target/bench")
KYSO=$REPO/target/bench/release/kyso

# A private world: SoftHSM token, HOME and XDG dirs (so the log database and
# the diagnostics files are fresh), and an empty Kyso config.
log "making the SoftHSM2 token"
mkdir -p "$WORK/home"
export HOME=$WORK/home XDG_DATA_HOME=$WORK/home/data XDG_STATE_HOME=$WORK/home/state XDG_CONFIG_HOME=$WORK/home/config
make_token "$WORK"

log "making $BATCH 1-page PDFs"
python3 "$REPO/bench/make_pdfs.py" "$WORK/in" --pages 1 --image-bytes 1024 >/dev/null 2>&1
mkdir -p "$WORK/batch"
for i in $(seq -w 1 "$BATCH"); do cp "$WORK/in/one.pdf" "$WORK/batch/doc$i.pdf"; done

# measure MODE KIND: one timed run, appends nanoseconds to $WORK/MODE-KIND.
measure() {
    local mode=$1 kind=$2 t0 t1
    rm -rf "$WORK/out"; mkdir -p "$WORK/out"
    sync
    t0=$(date +%s%N)
    if [ "$kind" = batch ]; then
        KYSO_USAGE_LOG=$mode "$KYSO" sign "$WORK"/batch/*.pdf --out-dir "$WORK/out" --pin-stdin <"$WORK/pin" >/dev/null 2>>"$WORK/kyso.log"
    else
        KYSO_USAGE_LOG=$mode "$KYSO" sign "$WORK/in/one.pdf" -o "$WORK/out/one.pdf" --pin-stdin <"$WORK/pin" >/dev/null 2>>"$WORK/kyso.log"
    fi
    t1=$(date +%s%N)
    echo $((t1 - t0)) >>"$WORK/$mode-$kind"
}
median() { sort -n "$WORK/$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

log "warming up"
measure on batch; measure off batch; rm -f "$WORK"/on-* "$WORK"/off-*
log "timing: $RUNS runs per mode, interleaved"
for _ in $(seq "$RUNS"); do
    measure off batch; measure on batch
    measure on single; measure off single
done

entries=$("$KYSO" log --json --limit 0 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
"$KYSO" log verify >/dev/null 2>&1 || { log "the log does not verify"; exit 1; }

on_b=$(median on-batch); off_b=$(median off-batch)
on_s=$(median on-single); off_s=$(median off-single)
awk -v on_b="$on_b" -v off_b="$off_b" -v on_s="$on_s" -v off_s="$off_s" -v n="$BATCH" -v runs="$RUNS" -v entries="$entries" 'BEGIN {
    printf "usage log on vs off, %d interleaved runs each, medians\n", runs
    printf "| case | log off | log on | cost |\n|---|---|---|---|\n"
    printf "| batch of %d 1-page PDFs | %.3f s (%.0f docs/s) | %.3f s (%.0f docs/s) | %+.1f%% time, %.2f ms per entry |\n",
        n, off_b / 1e9, n * 1e9 / off_b, on_b / 1e9, n * 1e9 / on_b, (on_b - off_b) * 100 / off_b, (on_b - off_b) / n / 1e6
    printf "| one 1-page PDF (process start, login, 2 entries) | %.1f ms | %.1f ms | %+.1f%% |\n",
        off_s / 1e6, on_s / 1e6, (on_s - off_s) * 100 / off_s
    printf "entries written and verified: %d\n", entries
}'
