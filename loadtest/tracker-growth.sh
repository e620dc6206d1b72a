#!/usr/bin/env bash
# tracker-growth.sh: how a WebTorrent tracker's CPU per message grows with the number of swarms:
# tracker-vs-others.sh (closed loop, tracker-load) once per swarm count, every server an open
# tracker over random info-hashes, then a table and a PNG plot (gnuplot, installed from Debian's
# packages when missing).
#
#   loadtest/tracker-growth.sh                                        # 1 to 100 000 swarms
#   SWARMS_LIST="1 1000" DURATION=3 loadtest/tracker-growth.sh         # quicker
#
# Settings: SWARMS_LIST ["1 10 100 1000 10000 100000"], SERVERS ["vidseed bittorrent-tracker"]
# (aquatic too when installed, see tracker-vs-others.sh), DURATION [5], REPEATS [1], CONNS [64],
# PLOT [docs/tracker-growth.png], BUILD [1]. Exit status: 0 if every run finished.
# The closed loop reads one message per message sent, so a server that drops looks cheap: the
# table keeps each server's drops beside its figures.

set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
export LC_ALL=C
SWARMS_LIST=${SWARMS_LIST:-"1 10 100 1000 10000 100000"}
export SERVERS=${SERVERS:-"vidseed bittorrent-tracker"}
DURATION=${DURATION:-5}
REPEATS=${REPEATS:-1}
CONNS=${CONNS:-64}
PLOT=${PLOT:-docs/tracker-growth.png}
BUILD=${BUILD:-1}
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TMP=$(mktemp -d -t tracker-growth.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
TABLE=$TMP/growth.tsv
errors=0
log "tracker-growth: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, vidseed rev $(git rev-parse --short HEAD 2> /dev/null || echo unknown), swarms $SWARMS_LIST, servers $SERVERS, $CONNS connections"
for n in $SWARMS_LIST; do
    log "== $n swarms"
    TORRENTS=$n IDLE=0 REPORT_EVERY=0 REPEATS=$REPEATS DURATION=$DURATION CONNS=$CONNS BUILD=$BUILD \
        loadtest/tracker-vs-others.sh > "$TMP/run-$n.log" 2>&1 || errors=1
    BUILD=0
    # RESULT server=… resp_per_s=… non_error_resp_per_s=… cpu_us_per_resp=… … dropped_replies=…
    awk -v n="$n" '/^RESULT / {
        delete v
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%s\t%s\t%.0f\t%.0f\t%s\t%s\n", n, v["server"], v["resp_per_s"], v["non_error_resp_per_s"], v["cpu_us_per_resp"], ("dropped_replies" in v ? v["dropped_replies"] : "NA")
    }' "$TMP/run-$n.log" >> "$TABLE"
    grep '^RESULT' "$TMP/run-$n.log" >&2 || { log "no result at $n swarms:"; tail -20 "$TMP/run-$n.log" >&2; }
done

printf '\n| swarms | server | responses/s | non-error responses/s | CPU µs per response | replies dropped |\n|---:|---|---:|---:|---:|---:|\n'
awk -F '\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$TABLE"

if ensure_gnuplot; then
    plots=""
    for s in $SERVERS; do
        awk -F '\t' -v s="$s" '$2 == s' "$TABLE" > "$TMP/$s.tsv"
        plots="$plots${plots:+, }\"$TMP/$s.tsv\" using 1:5 with linespoints title \"$s\""
    done
    gnuplot << EOF
set terminal pngcairo size 800,420 font ",10"
set output "$PLOT"
set title "WebTorrent tracker, closed loop, one core each: CPU per response as swarms grow"
set logscale x
set xlabel "swarms (random info-hashes announced on)"
set ylabel "server CPU per response (µs)"
set key top left
set grid
plot $plots
EOF
    log "plot: $PLOT"
fi
exit "$errors"
