#!/usr/bin/env bash
# federation.sh: vidseed's signing and verifying rates and its inbox throughput, against
# `openssl speed rsa2048` on the same machine (the physical limit for RSA-2048).
#
# Starts `vidseed serve` (release) on an empty media folder with --allow-private-federation, runs
# `federation-load` (crypto rates in process, then signed Follow activities posted to the inbox by
# a loopback "instance" whose actor it serves; each is verified, stored and applied — answered with
# a signed Accept delivered back), then `openssl speed`, and prints the ratios.
#
#   loadtest/federation.sh                    # 5 s per figure
#   SECONDS_EACH=2 CONCURRENCY=4 loadtest/federation.sh
#
# Settings: SECONDS_EACH [5], CONCURRENCY [8], BUILD [1] (0: use existing release binaries),
# DATA_WORKERS [1].

set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
SECONDS_EACH=${SECONDS_EACH:-5}
CONCURRENCY=${CONCURRENCY:-8}
BUILD=${BUILD:-1}
DATA_WORKERS=${DATA_WORKERS:-1}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v openssl > /dev/null || { log "federation.sh: openssl is required for the anchor"; exit 1; }
TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [[ $BUILD == 1 ]]; then
    cargo build --release -q --bin vidseed && cargo build --release -q -p vidseed-loadtest --bin federation-load
fi
TMP=$(mktemp -d -t vidseed-federation.XXXXXX)
PID=""
cleanup() { stop_pid "$PID"; rm -rf "$TMP"; }
trap cleanup EXIT
serve_federating "$TMP" --data-workers "$DATA_WORKERS"
log "federation.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, vidseed rev $(git rev-parse --short HEAD 2> /dev/null || echo unknown), target $CONTROL"
JSON=$("$TARGET_DIR/release/federation-load" --target "$CONTROL" --seconds "$SECONDS_EACH" --concurrency "$CONCURRENCY" --json | tail -1)
read -r OSSL_SIGN OSSL_VERIFY < <(openssl speed -seconds "$SECONDS_EACH" rsa2048 2> /dev/null | awk '/^rsa 2048 bits/ { print $(NF-1), $NF }')
awk -v j="$JSON" -v os="$OSSL_SIGN" -v ov="$OSSL_VERIFY" 'function get(k,   m) { return match(j, "\"" k "\":[-0-9.eE+]+") ? substr(j, RSTART + length(k) + 3, RLENGTH - length(k) - 3) + 0 : 0 }
BEGIN {
    printf "\n%-34s %12s %12s %8s\n", "figure", "per second", "openssl", "ratio"
    printf "%-34s %12.0f %12.0f %8.2f\n", "RSA-2048 sign", get("rsa_sign_per_s"), os, get("rsa_sign_per_s") / os
    printf "%-34s %12.0f %12.0f %8.2f\n", "RSA-2048 verify", get("rsa_verify_per_s"), ov, get("rsa_verify_per_s") / ov
    printf "%-34s %12.0f %12.0f %8.2f\n", "HTTP Signature header (sign)", get("http_signature_headers_per_s"), os, get("http_signature_headers_per_s") / os
    printf "%-34s %12.0f %12.0f %8.2f\n", "RsaSignature2017 sign", get("ld_sign_per_s"), os, get("ld_sign_per_s") / os
    printf "%-34s %12.0f %12.0f %8.2f\n", "RsaSignature2017 verify", get("ld_verify_per_s"), ov, get("ld_verify_per_s") / ov
    printf "%-34s %12.0f %12.0f %8.2f\n", "inbox: verified and stored", get("inbox_accepted_per_s"), ov, get("inbox_accepted_per_s") / ov
    printf "%-34s %12.0f %12.0f %8.2f\n", "inbox: applied (Accept delivered)", get("inbox_applied_per_s"), os, get("inbox_applied_per_s") / os
}'
