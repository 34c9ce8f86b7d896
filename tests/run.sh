#!/usr/bin/env bash
# Runs every test Kyso has: the Rust unit and integration tests (real SoftHSM2
# tokens, real validators) and, once they exist, the browser tests.
# Installs what the tests need first (Debian packages, pyHanko).
#
#   bash tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash packaging/debian/install-deps.sh --test

cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
