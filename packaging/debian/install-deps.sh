#!/usr/bin/env bash
# Installs what Kyso needs on Debian/Ubuntu: the SoftHSM2 demo token, the
# validators and browser the tests use, and a Rust toolchain if none is
# present. Safe to run again: it only installs what is missing.
#
#   bash packaging/debian/install-deps.sh          # to run Kyso
#   bash packaging/debian/install-deps.sh --test   # to run the test suite too
set -euo pipefail

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi

runtime_pkgs=(softhsm2 opensc ca-certificates)
test_pkgs=(poppler-utils qpdf gcc libp11-kit-dev python3-pip python3-venv chromium time curl)

pkgs=("${runtime_pkgs[@]}")
if [[ $want_test -eq 1 ]]; then pkgs+=("${test_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Node.js may come from NodeSource, whose nodejs package bundles npm and
# conflicts with Debian's npm: install Debian's only when there is no npm.
if [[ $want_test -eq 1 ]] && ! command -v npm >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  # Debian's own cargo is older than the 1.88 that lopdf needs.
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  source "$HOME/.cargo/env"
fi

if [[ $want_test -eq 1 ]]; then
  if ! command -v pyhanko >/dev/null 2>&1; then
    # pyHanko is the independent validator; the `pyhanko` command is in pyhanko-cli.
    pip install -q 'pyhanko[pkcs11]==0.38.*' 'pyhanko-cli' 2>/dev/null \
      || pip install -q --break-system-packages 'pyhanko[pkcs11]==0.38.*' 'pyhanko-cli'
  fi
fi
