#!/usr/bin/env bash
# What a visible signature costs on top of an invisible one (issue 5: at most
# 5 ms more per 1-page document).
#
#   bash bench/appearance.sh          # from anywhere; needs cargo, softhsm2, python3
#
# Knobs: BATCH=100 documents per run, RUNS=5 runs per variant (the fastest
# run is reported, as the least disturbed by the machine).
#
# Each run signs BATCH copies of examples/sample.pdf (one LibreOffice page)
# in one `kyso sign` call with one PIN entry, so process start and token login
# are spread over the batch; the per-document time is total / BATCH. The
# variants alternate run by run, so drift on the machine hits them alike.
# Everything lives in a scratch directory removed on exit, with the demo
# token made there (HOME points at it).
set -euo pipefail

BATCH=${BATCH:-100}
RUNS=${RUNS:-5}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

# Built before HOME moves: rustup finds its toolchain through HOME.
echo ">> building kyso (release)" >&2
cargo build --release --quiet --manifest-path "$REPO/Cargo.toml"
KYSO=$REPO/target/release/kyso

export HOME=$SCRATCH/home XDG_DATA_HOME=$SCRATCH/home/.local/share XDG_CONFIG_HOME=$SCRATCH/home/.config
mkdir -p "$HOME"
unset KYSO_CONFIG KYSO_PKCS11_MODULE

"$KYSO" demo-token >/dev/null 2>&1

mkdir -p "$SCRATCH/in"
for i in $(seq "$BATCH"); do cp "$REPO/examples/sample.pdf" "$SCRATCH/in/doc$i.pdf"; done

# A 300×120 blue signature with a transparent background.
python3 - "$SCRATCH/sig.png" <<'PY'
import math, struct, sys, zlib
w, h = 300, 120
rows = b"".join(
    b"\0" + b"".join(
        bytes((20, 40, 200, 255)) if abs(y - (60 + 40 * math.sin(x / 24))) < 6 else bytes(4)
        for x in range(w))
    for y in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
PY

declare -A VARIANTS=(
  [invisible]="--profile none"
  [approved]="--profile approved --image $SCRATCH/sig.png --rect-mm 120,200,50,20"
  [approved_anchor]="--profile approved --image $SCRATCH/sig.png --anchor Nguyễn_Văn_An"
  [appendix]="--profile appendix --doc-number 123/QĐ-UBND --org-name Ủy_ban_nhân_dân_tỉnh_Thử_Nghiệm"
)
ORDER=(invisible approved approved_anchor appendix)
declare -A BEST

for run in $(seq "$RUNS"); do
  for v in "${ORDER[@]}"; do
    out=$SCRATCH/out-$v
    rm -rf "$out"
    # Underscores stand for spaces so the options survive word splitting.
    read -r -a opts <<<"${VARIANTS[$v]}"
    opts=("${opts[@]//_/ }")
    sync
    start=$(date +%s%N)
    echo 123456 | "$KYSO" sign --demo --pin-stdin --out-dir "$out" "${opts[@]}" "$SCRATCH"/in/*.pdf >/dev/null 2>"$SCRATCH/err" \
      || { cat "$SCRATCH/err" >&2; exit 1; }
    ns=$(( $(date +%s%N) - start ))
    if [ -z "${BEST[$v]:-}" ] || [ "$ns" -lt "${BEST[$v]}" ]; then BEST[$v]=$ns; fi
  done
done

per_doc() { awk -v ns="$1" -v n="$BATCH" 'BEGIN { printf "%.2f", ns / n / 1e6 }'; }
base=${BEST[invisible]}
printf '%-16s %12s %14s\n' variant "ms/document" "vs invisible"
for v in "${ORDER[@]}"; do
  printf '%-16s %12s %13s\n' "$v" "$(per_doc "${BEST[$v]}")" "$(per_doc $(( ${BEST[$v]} - base )))"
done
size=$(stat -c %s "$SCRATCH/out-appendix/doc1.pdf"); inv=$(stat -c %s "$SCRATCH/out-invisible/doc1.pdf")
echo "appendix stamp adds $(( size - inv )) bytes to a signed 1-page document"
