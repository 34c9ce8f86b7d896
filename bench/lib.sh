# Shared by the benchmark scripts: logging, installing missing tools, and
# the private SoftHSM2 token every benchmark signs with. Source it; it
# defines functions and variables only.
#
# The token: label BENCH, PIN 123456, one RSA-2048 key and an end-entity
# certificate with digitalSignature/nonRepudiation (Kyso offers only such
# certificates, and `openssl req -x509` would mark it as a CA, so a CSR is
# self-signed with explicit extensions instead).

PIN=123456
SO_PIN=12345678
LABEL=BENCH

log() { printf '>> %s\n' "$*" >&2; }

# show_logs DIR N: the last N lines of each non-empty DIR/*.log, so a
# failed run shows why before its scratch directory is removed.
show_logs() {
    local f
    for f in "$1"/*.log; do
        [ -s "$f" ] && { log "--- $(basename "$f") (last lines)"; tail -n "$2" "$f" >&2; }
    done
    return 0
}

# need COMMAND PACKAGE: installs PACKAGE with apt when COMMAND is missing, so
# the scripts run on a fresh Debian machine. Rust is not installed: Kyso
# needs a newer toolchain than Debian ships.
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
apt_updated=
need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    log "installing $2 (for $1)"
    if [ -z "$apt_updated" ]; then $SUDO apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$2" >/dev/null
}

# find_softhsm: sets SOFTHSM_LIB or exits.
find_softhsm() {
    SOFTHSM_LIB=
    for p in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so; do
        [ -e "$p" ] && { SOFTHSM_LIB=$p; break; }
    done
    [ -n "$SOFTHSM_LIB" ] || { log "libsofthsm2.so not found"; exit 1; }
}

# make_token DIR: makes the token in DIR, points SoftHSM2 and Kyso at it
# (SOFTHSM2_CONF, KYSO_PKCS11_MODULE, an empty KYSO_CONFIG so the user's own
# config cannot steer the run) and writes the PIN to DIR/pin.
make_token() {
    local dir=$1
    mkdir -p "$dir/tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$dir/tokens" >"$dir/softhsm2.conf"
    export SOFTHSM2_CONF=$dir/softhsm2.conf KYSO_PKCS11_MODULE=$SOFTHSM_LIB KYSO_CONFIG=$dir/kyso.toml
    : >"$KYSO_CONFIG"
    softhsm2-util --init-token --free --label "$LABEL" --so-pin "$SO_PIN" --pin "$PIN" >"$dir/token.log"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/key.pem" 2>>"$dir/token.log"
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n' >"$dir/ext.cnf"
    openssl req -new -key "$dir/key.pem" -subj "/CN=Kyso Bench/O=Kyso" \
        | openssl x509 -req -signkey "$dir/key.pem" -days 30 -extfile "$dir/ext.cnf" \
            -outform DER -out "$dir/cert.der" 2>>"$dir/token.log"
    openssl pkcs8 -topk8 -nocrypt -in "$dir/key.pem" -out "$dir/key.p8"
    softhsm2-util --import "$dir/key.p8" --token "$LABEL" --label k --id 01 --pin "$PIN" >>"$dir/token.log"
    pkcs11-tool --module "$SOFTHSM_LIB" --token-label "$LABEL" --login --pin "$PIN" \
        --write-object "$dir/cert.der" --type cert --id 01 --label k >>"$dir/token.log" 2>&1
    printf '%s\n' "$PIN" >"$dir/pin"
}
