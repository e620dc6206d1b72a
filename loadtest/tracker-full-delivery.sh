#!/usr/bin/env bash
# tracker-full-delivery.sh: WebTorrent trackers at full delivery — vidseed, aquatic_ws and the npm
# bittorrent-tracker, each on one core, driven by `tracker-delivery` (an open loop whose peers
# read every message, as browsers do) on the other core.
#
# For each server and each offered rate in RATES: a fresh run of DURATION seconds with CONNS
# peers in SWARMS swarms, OFFERS offers per announce, half of the offers answered. A run is
# "zero loss" (0) when every announce got its response, every answer was relayed, no failure
# reason came and no connection was lost; GEN when the generator could not offer the rate (no
# verdict). A server *holds* a rate when it loses nothing and has delivered everything within
# 1 s of the load's end (a server that queues delivers late, not never). Printed per run: sent
# rate, loss, drain (s of delivering after the load), offers relayed per announce, offer and
# answer relay p99, the server's CPU per delivered message and the generator's CPU; then each
# server's highest rate held.
#
#   loadtest/tracker-full-delivery.sh
#   RATES="10000 30000" DURATION=5 SERVERS=vidseed loadtest/tracker-full-delivery.sh
#
# Settings: SERVERS ["vidseed bittorrent-tracker aquatic"] (aquatic only if AQUATIC_BIN runs),
# RATES ["5000 10000 20000 30000 40000 50000 60000"], DURATION [10], CONNS [1000], SWARMS [100],
# OFFERS [5], SERVER_CPU [1] and GENERATOR_CPU [0] (taskset pinning; empty: none), BUILD [1],
# AQUATIC_BIN [${XDG_CACHE_HOME:-$HOME/.cache}/vidseed-loadtest/aquatic/bin/aquatic_ws],
# NODE [node], PORT [18681], OUT [] (a copy of the JSON lines).

set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SERVERS=${SERVERS:-"vidseed bittorrent-tracker aquatic"}
RATES=${RATES:-"5000 10000 20000 30000 40000 50000 60000"}
DURATION=${DURATION:-10}
CONNS=${CONNS:-1000}
SWARMS=${SWARMS:-100}
OFFERS=${OFFERS:-5}
SERVER_CPU=${SERVER_CPU-1}
GENERATOR_CPU=${GENERATOR_CPU-0}
BUILD=${BUILD:-1}
AQUATIC_BIN=${AQUATIC_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/vidseed-loadtest/aquatic/bin/aquatic_ws}
NODE=${NODE:-node}
PORT=${PORT:-18681}
OUT=${OUT:-}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

if [[ $BUILD == 1 ]]; then
    cargo build --release -q --bin vidseed
    cargo build --release -q -p vidseed-loadtest --bin tracker-delivery
fi
pin() { # cpu command...: run pinned when taskset and a CPU are given (in a subshell: it execs)
    local cpu=$1
    shift
    # exec: a server started in the background keeps its own pid (its CPU is read from /proc).
    if [[ -n $cpu ]] && command -v taskset > /dev/null; then exec taskset -c "$cpu" "$@"; else exec "$@"; fi
}

TMP=$(mktemp -d -t vidseed-delivery.XXXXXX)
SPID=""
cleanup() { stop_pid "$SPID"; rm -rf "$TMP"; }
trap cleanup EXIT

wait_listening() { # pid log: until PORT accepts, at most 30 s
    local i
    for ((i = 0; i < 300; i++)); do
        kill -0 "$1" 2> /dev/null || { log "the server exited:"; tail -n 20 "$2" >&2; return 1; }
        port_busy "$PORT" && return 0
        sleep 0.1
    done
    log "the server did not listen on $PORT"
    return 1
}

start_server() { # name -> SPID, or 1 when it cannot run here
    local i
    rm -rf "$TMP/state"
    case $1 in
        vidseed)
            # An open tracker without the per-address limits (the others have none); one worker.
            printf '[http]\nmax_connections_per_ip = 0\n[tracker]\nopen = true\nmax_connections_per_ip = 1000000\nmax_messages_per_sec = 0\nmax_announces_per_ip = 0\n[tracker.swarm]\nmax_swarms_per_conn = 1000000\n' > "$TMP/vidseed.toml"
            mkdir -p "$TMP/media"
            (pin "$SERVER_CPU" "$TARGET_DIR/release/vidseed" serve "$TMP/media" --state "$TMP/state" --data-listen "127.0.0.1:$PORT" \
                --control-listen 127.0.0.1:0 --data-workers 1 --config "$TMP/vidseed.toml") > "$TMP/server.log" 2>&1 &
            ;;
        bittorrent-tracker)
            command -v "$NODE" > /dev/null || { log "note: no $NODE: bittorrent-tracker skipped"; return 1; }
            [[ -d tests/interop/node_modules/bittorrent-tracker ]] || npm ci --ignore-scripts --no-audit --no-fund --prefix tests/interop > /dev/null
            (pin "$SERVER_CPU" "$NODE" loadtest/bittorrent-tracker-server.mjs "$PORT" 127.0.0.1) > "$TMP/server.log" 2>&1 &
            ;;
        aquatic)
            [[ -x $AQUATIC_BIN ]] || { log "note: no aquatic_ws at $AQUATIC_BIN: skipped"; return 1; }
            "$AQUATIC_BIN" -p > "$TMP/aquatic-default.toml"
            aquatic_config "$TMP/aquatic-default.toml" "127.0.0.1:$PORT" 0 "" "" > "$TMP/aquatic.toml"
            (pin "$SERVER_CPU" "$AQUATIC_BIN" -c "$TMP/aquatic.toml") > "$TMP/server.log" 2>&1 &
            ;;
    esac
    SPID=$!
    wait_listening "$SPID" "$TMP/server.log" || return 1
    if [[ $1 == vidseed ]]; then # ready once its data plane has the catalog
        for ((i = 0; i < 100; i++)); do
            grep -q "catalog update" "$TMP/server.log" && break
            sleep 0.1
        done
    fi
}

log "tracker-full-delivery.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), vidseed rev $(git rev-parse --short HEAD 2> /dev/null || echo unknown)"
log "$CONNS peers in $SWARMS swarms, $OFFERS offers per announce, ${DURATION} s per rate; server on CPU ${SERVER_CPU:-any}, generator on CPU ${GENERATOR_CPU:-any}"
printf '%-19s %8s %9s %5s %7s %8s %10s %10s %8s %10s\n' server offered sent/s loss drain offers/a "offer p99" "answ p99" "µs/msg" "gen CPU s"
declare -A BEST
for server in $SERVERS; do
    BEST[$server]=0
    for rate in $RATES; do
        # A fresh server per rate: no state carried from a run that lost messages.
        start_server "$server" || continue 2
        json=$( (pin "$GENERATOR_CPU" "$TARGET_DIR/release/tracker-delivery" --url "ws://127.0.0.1:$PORT/tracker/socket" \
            --connections "$CONNS" --swarms "$SWARMS" --offers "$OFFERS" --rate "$rate" --duration "$DURATION" \
            --server-pid "$SPID" --label "$server" --json) 2> "$TMP/gen.err" || true)
        stop_pid "$SPID"
        SPID=""
        if [[ -z $json ]]; then
            log "  $server at $rate/s: the generator failed: $(tail -n 3 "$TMP/gen.err"); the server's last lines:"
            tail -n 5 "$TMP/server.log" >&2
            continue
        fi
        [[ -n $OUT ]] && echo "$json" >> "$OUT"
        zero=$(grep -o '"zero_loss":[a-z]*' <<< "$json" | cut -d: -f2)
        limited=$(grep -o '"generator_limited":[a-z]*' <<< "$json" | cut -d: -f2)
        drain=$(jnum drain_s "$json")
        p99() { sed -n 's/.*"'"$1"'":{[^}]*"p99":\([-0-9.eE+]*\).*/\1/p' <<< "$json"; }
        verdict=LOSS
        [[ $zero == true ]] && verdict=0
        [[ $limited == true ]] && verdict=GEN
        printf '%-19s %8s %9.0f %5s %7.2f %8.2f %10.2f %10.2f %8.2f %10.2f\n' "$server" "$rate" "$(jnum sent_rate "$json")" \
            "$verdict" "$drain" "$(jnum offers_per_announce "$json")" "$(p99 offer_relay_ms)" \
            "$(p99 answer_relay_ms)" "$(jnum server_cpu_us_per_delivered "$json")" "$(jnum generator_cpu_s "$json")"
        if [[ $zero == true ]] && awk -v d="$drain" 'BEGIN { exit !(d < 1.0) }'; then
            ((rate > BEST[$server])) && BEST[$server]=$rate
        fi
    done
done
echo
for server in $SERVERS; do
    [[ -n ${BEST[$server]:-} ]] && printf '%-19s highest rate held (zero loss, delivered within 1 s): %s announces/s\n' "$server" "${BEST[$server]}"
done
