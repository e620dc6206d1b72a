#!/usr/bin/env bash
# origin.sh: how fast vidseed federates its own videos, and what it costs.
#
# Starts `vidseed serve` (release) on an empty media folder (rescanned every second, with
# --allow-private-federation), then `origin-load`: FOLLOWERS remote actors on loopback, each with
# its own inbox, follow vidseed's account; LATENCY_RUNS files land one at a time (time from the
# file appearing to its Create at the first and at every follower), then VIDEOS files land at
# once (deliveries per second, vidseed's CPU per delivery — all its work: scan, hash, store,
# sign, send). The clip is a real 3 s MP4 from the test data, linked under new names.
#
#   loadtest/origin.sh                          # 10,000 videos to 100 followers
#   VIDEOS=1000 FOLLOWERS=100 loadtest/origin.sh
#
# Settings: VIDEOS [10000], FOLLOWERS [100], LATENCY_RUNS [10], BUILD [1] (0: use existing
# release binaries), STALL_SECS [120], MAX_SECS [0: to the end; else end the cost run after that
# long and report the steady rate and CPU per delivery of its second half].

set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
VIDEOS=${VIDEOS:-10000}
FOLLOWERS=${FOLLOWERS:-100}
LATENCY_RUNS=${LATENCY_RUNS:-10}
BUILD=${BUILD:-1}
STALL_SECS=${STALL_SECS:-120}
MAX_SECS=${MAX_SECS:-0}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [[ $BUILD == 1 ]]; then
    cargo build --release -q --bin vidseed && cargo build --release -q -p vidseed-loadtest --bin origin-load
fi
TMP=$(mktemp -d -t vidseed-origin.XXXXXX)
PID=""
cleanup() { stop_pid "$PID"; rm -rf "$TMP"; }
trap cleanup EXIT
serve_federating "$TMP" --data-workers 1 --rescan-interval 1
cp control-plane/tests-data/media/clip-320x180-25fps-3s.mp4 "$TMP/clip.mp4"
log "origin.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), vidseed rev $(git rev-parse --short HEAD 2> /dev/null || echo unknown), $VIDEOS videos to $FOLLOWERS followers"
"$TARGET_DIR/release/origin-load" --target "$CONTROL" --media "$TMP/media" --clip "$TMP/clip.mp4" --pid "$PID" \
    --followers "$FOLLOWERS" --videos "$VIDEOS" --latency-runs "$LATENCY_RUNS" --stall-secs "$STALL_SECS" --max-secs "$MAX_SECS" --json
