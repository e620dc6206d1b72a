#!/usr/bin/env bash
# webseed-growth.sh: how req/s, CPU per request and memory grow with the number of connections,
# vidseed against nginx: webseed-vs-nginx.sh once per connection count (one worker each, one
# scenario), then a table of the medians and a PNG plot (gnuplot, installed from Debian's
# packages when missing).
#
#   loadtest/webseed-growth.sh                                   # 100, 1 000 and 10 000 connections
#   CONNS_LIST="100 1000" DURATION=5 loadtest/webseed-growth.sh  # quicker
#   VIDSEED_ARGS="--io epoll" PLOT=/tmp/epoll.png loadtest/webseed-growth.sh
#
# Settings: CONNS_LIST ["100 1000 10000"], SCENARIO [16k] (16k 256k 1m cors16k), DURATION [10],
# REPEATS [1], VIDSEED_ARGS [] (passed on), PLOT [docs/webseed-growth.png], BUILD [1].
# Exit status: 0 if every run finished without errors.

set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
export LC_ALL=C
CONNS_LIST=${CONNS_LIST:-"100 1000 10000"}
SCENARIO=${SCENARIO:-16k}
DURATION=${DURATION:-10}
REPEATS=${REPEATS:-1}
PLOT=${PLOT:-docs/webseed-growth.png}
BUILD=${BUILD:-1}
export VIDSEED_ARGS=${VIDSEED_ARGS:-}
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TMP=$(mktemp -d -t webseed-growth.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
TABLE=$TMP/growth.tsv
errors=0
log "webseed-growth: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, vidseed rev $(git rev-parse --short HEAD 2> /dev/null || echo unknown), scenario $SCENARIO, connections $CONNS_LIST, vidseed args '${VIDSEED_ARGS}'"
for c in $CONNS_LIST; do
    log "== $c connections"
    CONNS=$c SCENARIOS=$SCENARIO WORKERS=1 REPEATS=$REPEATS DURATION=$DURATION BUILD=$BUILD \
        loadtest/webseed-vs-nginx.sh > "$TMP/run-$c.log" 2>&1 || errors=1
    BUILD=0
    grep -E '^  (nginx|vidseed) ' "$TMP/run-$c.log" >&2 || true
    # RESULT server=… rps=… p99_ms=… cpu_us_per_req=… rss_mib=… errors=…
    awk -v c="$c" '/^RESULT / {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%s\t%s\t%.0f\t%.3f\t%.2f\t%s\t%s\n", c, v["server"], v["rps"], v["p99_ms"], v["cpu_us_per_req"], v["rss_mib"], v["errors"]
    }' "$TMP/run-$c.log" >> "$TABLE"
done

printf '\n| connections | server | GET/s | p99 ms | CPU µs/req | RSS (anon) MiB | errors |\n|---:|---|---:|---:|---:|---:|---:|\n'
awk -F '\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' "$TABLE"

if ensure_gnuplot; then
    for s in nginx vidseed; do awk -F '\t' -v s="$s" '$2 == s' "$TABLE" > "$TMP/$s.tsv"; done
    gnuplot << EOF
set terminal pngcairo size 1200,420 font ",10"
set output "$PLOT"
set multiplot layout 1,3 title "WebSeed, $SCENARIO ranges, one worker each: how cost grows with connections (vidseed ${VIDSEED_ARGS:-default})"
set logscale x
set xlabel "connections"
set key top left
set grid
set title "requests per second"
plot "$TMP/nginx.tsv" using 1:3 with linespoints title "nginx", "$TMP/vidseed.tsv" using 1:3 with linespoints title "vidseed"
set title "server CPU per request (µs)"
plot "$TMP/nginx.tsv" using 1:5 with linespoints title "nginx", "$TMP/vidseed.tsv" using 1:5 with linespoints title "vidseed"
set title "resident anonymous memory (MiB)"
plot "$TMP/nginx.tsv" using 1:6 with linespoints title "nginx", "$TMP/vidseed.tsv" using 1:6 with linespoints title "vidseed"
unset multiplot
EOF
    log "plot: $PLOT"
fi
exit "$errors"
