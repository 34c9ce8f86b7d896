#!/usr/bin/env bash
# Kyso benchmark: large-file signing cost and small-file batch throughput.
#
#   bash bench/run.sh            # from the repository root (or anywhere)
#
# Environment knobs (defaults are what docs/benchmarks.md reports):
#   RUNS=5      timed runs per tool; the median wall time is reported
#   BATCH=200   1-page documents in the batch throughput test
#   PAGES=200   pages (1 MiB random image each) in the large PDF
#   TMPDIR      where the scratch directory goes (needs ~1 GB free); inputs
#               and outputs share this filesystem, so it is what is measured
#
# Everything (token, PDFs, signed outputs) lives in one scratch directory that
# is removed on exit, and SoftHSM2 gets a private config, so the run neither
# touches nor depends on any token or config of the machine.
#
# The page cache cannot be dropped without root and a quiet machine, so the
# inputs are read once before timing: every tool then reads from memory, the
# same for all. Each timed command starts after a `sync`, so no tool pays for
# write-back of another's output.
set -euo pipefail

RUNS=${RUNS:-5}
BATCH=${BATCH:-200}
PAGES=${PAGES:-200}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"


# --- Tools -------------------------------------------------------------------
# The script must work on a fresh Debian machine, so missing tools are
# installed with apt (via sudo when not root). Rust is not: Kyso needs a newer
# toolchain than Debian ships, so cargo must come from rustup beforehand.
need softhsm2-util softhsm2
need pkcs11-tool opensc
need openssl openssl
need qpdf qpdf
need pdfsig poppler-utils
need python3 python3
# eatmydata turns fsync into a no-op: used only for a diagnostic row that
# separates Kyso's durability cost (fsync of the output) from its own work.
need eatmydata eatmydata
# GNU time, not the shell keyword: it reports the peak RSS (%M).
[ -x /usr/bin/time ] || need /usr/bin/time time
command -v cargo >/dev/null || { log "cargo not found: install Rust with rustup first"; exit 1; }

find_softhsm

# --- Scratch directory, cleaned on any exit -----------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kyso-bench.XXXXXX")
cleanup() {
    local rc=$?
    [ "$rc" -eq 0 ] || show_logs "$WORK" 5
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# pyHanko 0.38 with its CLI. An existing install is used when it is that
# version; otherwise it goes into a venv inside the scratch directory.
PYHANKO=
if command -v pyhanko >/dev/null 2>&1; then
    PYHANKO=$(command -v pyhanko)
    # A pyenv shim is a bash script that re-execs Python: time the real
    # entry point so pyHanko is not charged for the shim.
    if command -v pyenv >/dev/null 2>&1 && pyenv which pyhanko >/dev/null 2>&1; then
        PYHANKO=$(pyenv which pyhanko)
    fi
    "$PYHANKO" --version 2>/dev/null | grep -q 'version 0\.38\.' || PYHANKO=
fi
if [ -z "$PYHANKO" ]; then
    log "installing pyHanko 0.38 into a private venv"
    python3 -c 'import venv, ensurepip' 2>/dev/null || need_venv=1
    if [ -n "${need_venv:-}" ]; then
        [ -n "$apt_updated" ] || { $SUDO apt-get update -qq; apt_updated=1; }
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    fi
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install -q 'pyHanko[pkcs11]==0.38.0' 'pyhanko-cli==0.6.0'
    PYHANKO=$WORK/venv/bin/pyhanko
fi
PYHANKO_VERSION=$("$PYHANKO" --version | sed 's/^pyHanko, //')

# --- Build Kyso ---------------------------------------------------------------
log "building kyso (release)"
(cd "$REPO" && cargo build --release --quiet)
KYSO=$REPO/target/release/kyso
KYSO_VERSION=$("$KYSO" --version)

# --- Token: SoftHSM2, private to this run --------------------------------------
log "making the SoftHSM2 token"
make_token "$WORK"

# --- Input PDFs ----------------------------------------------------------------
log "making the PDFs"
python3 "$REPO/bench/make_pdfs.py" "$WORK/in" --pages "$PAGES" 2>"$WORK/make.log"
BIG=$WORK/in/scan.pdf
ONE=$WORK/in/one.pdf
qpdf --check "$BIG" >"$WORK/qpdf.log"
qpdf --check "$ONE" >>"$WORK/qpdf.log"
BIG_BYTES=$(stat -c %s "$BIG")
mkdir -p "$WORK/batch" "$WORK/out"
for i in $(seq -w 1 "$BATCH"); do cp "$ONE" "$WORK/batch/doc$i.pdf"; done

# --- The commands under test -----------------------------------------------------
# Each writes to $WORK/out; outputs are removed before every run so that all
# tools create a new file rather than some overwriting a cached one. Every
# command gets the PIN file on stdin (only Kyso reads it); pyHanko takes the
# PIN from its documented environment variable.
export PYHANKO_PKCS11_PIN=$PIN
CMD_openssl=(openssl dgst -sha256 "$BIG")
CMD_kyso=("$KYSO" sign "$BIG" -o "$WORK/out/kyso.pdf" --pin-stdin --token "$LABEL")
# --use-pades: the same kind of signature Kyso makes (ETSI.CAdES.detached).
CMD_pyhanko=("$PYHANKO" sign addsig --field Sig1 --use-pades
    pkcs11 --lib "$SOFTHSM_LIB" --token-label "$LABEL" --cert-label k --key-label k
    "$BIG" "$WORK/out/pyhanko.pdf")
# The I/O floor for any signer that writes a durable copy: read, write and
# fsync the same bytes, no hashing. Kyso fsyncs its output; openssl writes
# nothing, so this row shows how much of the gap to openssl is plain I/O.
CMD_copy=(dd if="$BIG" of="$WORK/out/copy.pdf" bs=1M conv=fsync status=none)
# Diagnostic only: the same Kyso command with fsync made a no-op.
# The library is preloaded through env rather than the eatmydata shell
# wrapper, whose start-up would be charged to the run.
CMD_nofsync=(env LD_PRELOAD=libeatmydata.so "$KYSO" sign "$BIG" -o "$WORK/out/kyso.pdf" --pin-stdin --token "$LABEL")
CMD_one=("$KYSO" sign "$ONE" -o "$WORK/out/one.pdf" --pin-stdin --token "$LABEL")
CMD_batch=("$KYSO" sign "$WORK"/batch/*.pdf --out-dir "$WORK/out/batch" --pin-stdin --token "$LABEL")

fresh_out() { rm -rf "$WORK/out"; mkdir -p "$WORK/out/batch"; }
run() { # run NAME: once, untimed
    local -n cmd="CMD_$1"
    "${cmd[@]}" <"$WORK/pin" >/dev/null 2>>"$WORK/$1.log"
}
# measure NAME: one timed run; appends "wall_ns peak_rss_kb" to
# $WORK/NAME.times. Wall time comes from the clock around the process (GNU
# time's %e has only 10 ms resolution); the peak RSS from GNU time, which
# runs the command directly, so no shell is counted.
measure() {
    local -n cmd="CMD_$1"
    local t0 t1
    fresh_out
    sync
    t0=$(date +%s%N)
    /usr/bin/time -f %M -o "$WORK/rss" "${cmd[@]}" <"$WORK/pin" >/dev/null 2>>"$WORK/$1.log"
    t1=$(date +%s%N)
    echo "$((t1 - t0)) $(tail -n 1 "$WORK/rss")" >>"$WORK/$1.times"
}

median_s() { # median wall time in seconds
    awk '{print $1}' "$WORK/$1.times" | sort -n \
        | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.3f", m / 1e9}'
}
peak_mb() { # highest peak RSS over the runs, in MB (10^6 bytes)
    awk '$2 > m {m = $2} END {printf "%.1f", m * 1024 / 1e6}' "$WORK/$1.times"
}
range_s() { # fastest–slowest, to show the noise
    awk '{print $1}' "$WORK/$1.times" | sort -n \
        | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%.2f–%.2f", lo/1e9, hi/1e9}'
}

# --- Warm-up: page cache, token files, first-run costs; check the outputs -----
log "warm-up"
cat "$BIG" "$ONE" >/dev/null
fresh_out
run openssl; run copy; run nofsync; run kyso; run pyhanko; run one; run batch
# A benchmark of a signer that makes broken signatures would be worthless.
for f in "$WORK/out/kyso.pdf" "$WORK/out/pyhanko.pdf" "$WORK/out/one.pdf" "$WORK/out/batch/doc$(seq -w 1 "$BATCH" | tail -n 1).pdf"; do
    pdfsig "$f" >"$WORK/pdfsig.log" 2>&1 || true
    grep -q 'Signature is Valid' "$WORK/pdfsig.log" || { log "$f: signature does not verify"; cat "$WORK/pdfsig.log" >&2; exit 1; }
done
[ "$(ls "$WORK/out/batch" | wc -l)" -eq "$BATCH" ] || { log "batch: not every document was signed"; exit 1; }

# --- Timed runs ---------------------------------------------------------------
# Round-robin rather than tool after tool, so slow drifts in machine load
# (other jobs, write-back) spread over all tools instead of hitting one.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$RUNS"); do
    log "run $r/$RUNS"
    for t in openssl kyso pyhanko copy nofsync one batch; do measure "$t"; done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Report -------------------------------------------------------------------
verdict() { awk -v v="$1" -v lim="$2" 'BEGIN {print (v <= lim) ? "met" : "MISSED"}'; }
ratio() { awk -v a="$(median_s "$1")" -v b="$(median_s openssl)" 'BEGIN {printf "%.2f×", a / b}'; }
BATCH_S=$(median_s batch)
DOCS_PER_S=$(awk -v n="$BATCH" -v s="$BATCH_S" 'BEGIN {printf "%.0f", n / s}')
CPU=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
MEM=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
FS=$(df -T "$WORK" | awk 'NR==2 {print $2}')
BIG_MB=$(awk -v b="$BIG_BYTES" 'BEGIN {printf "%.1f", b / 1e6}')

cat <<EOF

## Results — $(date +%Y-%m-%d) ($(date +%B\ %Y))

Command: \`bash bench/run.sh\` (RUNS=$RUNS, BATCH=$BATCH, PAGES=$PAGES)

- Machine: $(nproc) CPUs, $CPU, $MEM RAM, $(uname -sr), scratch on $FS
- Load average before/after the timed runs: $LOAD_BEFORE / $LOAD_AFTER
- $KYSO_VERSION; $(openssl version | cut -d' ' -f1-2); pyHanko $PYHANKO_VERSION; SoftHSM2 $(softhsm2-util --version)
- Large file: $BIG_MB MB, $PAGES pages, one random 8-bit RGB image per page; in page cache for every tool

| Task | Median wall (s) | Range (s) | Peak RSS (MB) | ÷ openssl |
|---|---:|---:|---:|---:|
| \`openssl dgst -sha256\` (reference) | $(median_s openssl) | $(range_s openssl) | $(peak_mb openssl) | 1.00× |
| \`kyso sign\` | $(median_s kyso) | $(range_s kyso) | $(peak_mb kyso) | $(ratio kyso) |
| pyHanko \`sign addsig --use-pades pkcs11\` | $(median_s pyhanko) | $(range_s pyhanko) | $(peak_mb pyhanko) | $(ratio pyhanko) |
| \`dd bs=1M conv=fsync\` copy (I/O floor, no hashing) | $(median_s copy) | $(range_s copy) | $(peak_mb copy) | $(ratio copy) |
| \`kyso sign\` with fsync disabled (eatmydata; diagnostic only) | $(median_s nofsync) | $(range_s nofsync) | $(peak_mb nofsync) | $(ratio nofsync) |
| \`kyso sign\`, one 1-page PDF | $(median_s one) | $(range_s one) | $(peak_mb one) | |
| \`kyso sign\`, batch of $BATCH 1-page PDFs, \`--out-dir\` | $BATCH_S | $(range_s batch) | $(peak_mb batch) | |

1-page documents signed per second in one batch: **$DOCS_PER_S/s** (median of $RUNS batches).

Targets for the large file: time ≤ 2× openssl — kyso $(ratio kyso), $(verdict "$(median_s kyso)" "$(awk -v o="$(median_s openssl)" 'BEGIN {print 2 * o}')"); peak RSS ≤ 64 MB — kyso $(peak_mb kyso) MB, $(verdict "$(peak_mb kyso)" 64).
EOF
