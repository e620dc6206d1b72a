#!/usr/bin/env bash
# Import throughput with verification against curl, from the same server: a data node's import
# of a copy (range requests, several at once, every piece — or every HLS segment and the init
# section's piece — verified before it is written, the file moved into place when whole) vs curl
# downloading the same file to the same disk. The server is vidseed's own WebSeed on loopback.
#
#   loadtest/import-vs-curl.sh                 # 1 GiB, 3 runs each
#   SIZE_MIB=256 RUNS=5 loadtest/import-vs-curl.sh
#
# Settings (environment):
#   SIZE_MIB [1024]   file size       RUNS [3]        runs per client
#   PARALLEL [4]      ranges at once  PIECE [1048576] torrent piece length
#   SEGMENT [2097152] HLS segment size for the HLS-style run
#   BUILD [1]         build the release binaries first
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
SIZE_MIB=${SIZE_MIB:-1024} RUNS=${RUNS:-3} PARALLEL=${PARALLEL:-4} PIECE=${PIECE:-1048576}
SEGMENT=${SEGMENT:-2097152} BUILD=${BUILD:-1}
source loadtest/lib.sh
command -v curl > /dev/null || { log "curl is needed"; exit 1; }
if [[ $BUILD == 1 ]]; then
    cargo build --release --locked --bin vidseed -p vidseed -p vidseed-loadtest --bin import-bench >&2
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vidseed-import.XXXXXX")
PID=""
cleanup() { stop_pid "$PID"; rm -rf "$TMP"; }
trap cleanup EXIT
mkdir -p "$TMP/media"
log "making a $SIZE_MIB MiB file"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$TMP/media/copy.mp4"
target/release/vidseed serve "$TMP/media" --state "$TMP/state" --data-listen 127.0.0.1:0 \
    --control-listen 127.0.0.1:0 --data-workers 1 > "$TMP/vidseed.log" 2>&1 &
PID=$!
url=""
for ((i = 0; i < 600; i++)); do
    url=$(sed -n 's/^ *file: *//p' "$TMP/vidseed.log" | head -n 1)
    [[ -n $url ]] && break
    sleep 0.5
done
[[ -n $url ]] || { log "vidseed did not publish the file"; tail "$TMP/vidseed.log" >&2; exit 1; }
log "origin: $url"
# warm the page cache on the server side
curl -s -o /dev/null "$url"

TIMEFORMAT='%R %U %S'
bytes=$((SIZE_MIB * 1024 * 1024))
curl_total=0 curl_cpu=0
for ((r = 1; r <= RUNS; r++)); do
    rm -f "$TMP/curl.out"
    t=$({ time curl -s -o "$TMP/curl.out" "$url"; } 2>&1)
    read -r real user sys <<< "$t"
    mbs=$(awk -v b=$bytes -v s="$real" 'BEGIN { printf "%.1f", b / 1e6 / s }')
    cpu=$(awk -v b=$bytes -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", (u + s) / (b / 1e9) }')
    echo "curl run $r: $mbs MB/s, $cpu CPU s/GB"
    curl_total=$(awk -v a=$curl_total -v m="$mbs" 'BEGIN { print a + m }')
    curl_cpu=$(awk -v a=$curl_cpu -v m="$cpu" 'BEGIN { print a + m }')
done
rm -f "$TMP/curl.out"
curl_mbs=$(awk -v a=$curl_total -v n=$RUNS 'BEGIN { printf "%.1f", a / n }')
curl_cpu=$(awk -v a=$curl_cpu -v n=$RUNS 'BEGIN { printf "%.2f", a / n }')

run_import() { # label extra-args...
    local label=$1 out mbs cpu
    shift
    out=$(target/release/import-bench --url "$url" --file "$TMP/media/copy.mp4" --piece-length "$PIECE" \
        --parallel "$PARALLEL" --runs "$RUNS" --into "$TMP/import" "$@")
    echo "$out" | sed "s/^/$label /"
    mbs=$(echo "$out" | awk '{ s += $3 } END { printf "%.1f", s / NR }')
    cpu=$(echo "$out" | awk '{ s += $5 } END { printf "%.2f", s / NR }')
    echo "$label: $mbs MB/s ($(awk -v a="$mbs" -v b="$curl_mbs" 'BEGIN { printf "%.2f", a / b }')x curl's $curl_mbs), $cpu CPU s/GB (curl $curl_cpu)"
}
run_import "web video (pieces)"
run_import "HLS (segments + init piece)" --segment "$SEGMENT"
