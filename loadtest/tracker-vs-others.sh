#!/usr/bin/env bash
# tracker-vs-others.sh: measure vidseed's WebTorrent tracker against aquatic_ws and the npm
# bittorrent-tracker server, side by side, over plain ws:// on 127.0.0.1 (or wss:// with TLS=1).
#
# All servers run at the same time; the load generator (tracker-load, aquatic_ws_load_test's
# closed loop) runs against each in turn, the order rotating on every repeat, and each server's
# CPU time during its run is read from /proc. Before the load runs, each server's memory per idle
# connected peer is measured on the fresh process: RssAnon before and after IDLE_PEERS WebSocket
# connections that announce once and then stay idle.
#
# vidseed only tracks info-hashes it published, so the script publishes FILES small random files
# and all servers get the same info-hash list. By default vidseed gets a configuration without
# its per-IP limits (aquatic and bittorrent-tracker have none): VIDSEED_LIMITS=default keeps them.
#
# Run from anywhere inside the repository (the script changes to the repository root):
#   loadtest/tracker-vs-others.sh
#   DURATION=3 REPEATS=1 IDLE_PEERS=500 loadtest/tracker-vs-others.sh       # quick smoke
#   SERVERS=vidseed loadtest/tracker-vs-others.sh                           # vidseed alone
#
# Settings (environment variables, defaults in brackets):
#   SERVERS ["vidseed bittorrent-tracker aquatic"]   which servers to measure (aquatic is skipped
#                         with a note if it is not installed and cannot be built or started)
#   REPEATS [2]           load runs per server
#   DURATION [10]         seconds per load run (measured once all connections are open)
#   CONNS [64]            connections of the load generator (one peer each)
#   THREADS [1]           threads of the load generator
#   OFFERS [10]           offers per announce
#   WORKERS ["1"]         vidseed --data-workers values (each gets its own series of runs)
#   SHARDS []             vidseed [tracker] shards (unset: vidseed's default, one shard per data
#                         worker on that worker's event loop)
#   VIDSEED_LIMITS [off]  off: no per-IP connection/announce limits and no swarms-per-connection
#                         limit in vidseed (the others have none); default: its shipped limits
#                         (64 connections and 15 announces per IP and info-hash per 5 min, 256
#                         swarms per connection), which refuse almost all of a load test's announces
#   FILES [200], FILE_KB [4]   files published by vidseed (their info-hashes are the torrents)
#   TORRENTS []           if set: that many random info-hashes instead of published files, and
#                         vidseed runs as an open tracker (`open = true`), like the others; for
#                         large torrent pools (aquatic's load test uses 10 000)
#   TLS [0]               1: every server terminates TLS itself (wss://, one self-signed ECDSA
#                         P-256 certificate made with openssl): vidseed with --tls-certificate,
#                         aquatic_ws with enable_tls, bittorrent-tracker behind Node's https;
#                         the setting of the pre-project anchors (docs/PERFORMANCE.md)
#   SOURCE_IPS [1]        local source addresses the load runs spread over (127.0.1.1, …)
#   REPORT_EVERY [5]      seconds per throughput sample within a run (0: none); the samples
#                         show whether a server slows down as its state grows
#   IDLE [1]              1 measures memory per idle peer, 0 skips it
#   IDLE_PEERS [2000]     idle connections per server (each announces once, no offers)
#   IDLE_HOLD [5]         seconds the idle peers stay connected
#   PORT_VIDSEED [18581], PORT_CONTROL [18582], PORT_BTT [18583], PORT_AQUATIC [18584]
#   BUILD [1]             build tracker-load and vidseed (release) first; 0 uses existing binaries
#   AQUATIC [auto]        1: build aquatic_ws with `cargo install` if missing; 0: skip aquatic;
#                         auto: use it only if already installed at AQUATIC_BIN
#   AQUATIC_ROOT [${XDG_CACHE_HOME:-$HOME/.cache}/vidseed-loadtest/aquatic]   cargo install --root
#   AQUATIC_BIN [$AQUATIC_ROOT/bin/aquatic_ws]
#   NODE [node]           node binary for bittorrent-tracker (installed by
#                         `npm ci --ignore-scripts --prefix tests/interop`)
#   READY_TIMEOUT [120]   seconds to wait for a server to be ready
#   PAUSE [1]             seconds of rest between runs
#   OUT []                if set, the raw per-run results (TSV) are copied to this file
#   KEEP_TMP [0]          1 keeps the temporary directory (logs, configs) instead of removing it
#   VIDSEED_ARGS []       extra arguments for `vidseed serve`
#
# Exit status: 0 if every run finished and counted no disconnects, 1 otherwise.

set -euo pipefail
# Shared helpers: log, stop_pid, port_busy, CPU accounting from /proc, wait_idle, jnum.
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
export LC_ALL=C

SERVERS=${SERVERS:-"vidseed bittorrent-tracker aquatic"}
REPEATS=${REPEATS:-2}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
OFFERS=${OFFERS:-10}
WORKERS=${WORKERS:-"1"}
SHARDS=${SHARDS:-}
VIDSEED_LIMITS=${VIDSEED_LIMITS:-off}
FILES=${FILES:-200}
FILE_KB=${FILE_KB:-4}
TORRENTS=${TORRENTS:-}
TLS=${TLS:-0}
SOURCE_IPS=${SOURCE_IPS:-1}
REPORT_EVERY=${REPORT_EVERY:-5}
IDLE=${IDLE:-1}
IDLE_PEERS=${IDLE_PEERS:-2000}
IDLE_HOLD=${IDLE_HOLD:-5}
PORT_VIDSEED=${PORT_VIDSEED:-18581}
PORT_CONTROL=${PORT_CONTROL:-18582}
PORT_BTT=${PORT_BTT:-18583}
PORT_AQUATIC=${PORT_AQUATIC:-18584}
BUILD=${BUILD:-1}
AQUATIC=${AQUATIC:-auto}
AQUATIC_ROOT=${AQUATIC_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/vidseed-loadtest/aquatic}
AQUATIC_BIN=${AQUATIC_BIN:-$AQUATIC_ROOT/bin/aquatic_ws}
NODE=${NODE:-node}
READY_TIMEOUT=${READY_TIMEOUT:-120}
PAUSE=${PAUSE:-1}
OUT=${OUT:-}
KEEP_TMP=${KEEP_TMP:-0}
VIDSEED_ARGS=${VIDSEED_ARGS:-}

die() { log "tracker-vs-others: $*"; exit 1; }

for v in REPEATS DURATION CONNS THREADS OFFERS FILES FILE_KB SOURCE_IPS REPORT_EVERY IDLE_PEERS IDLE_HOLD \
    PORT_VIDSEED PORT_CONTROL PORT_BTT PORT_AQUATIC READY_TIMEOUT PAUSE; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
((REPEATS > 0 && DURATION > 0 && CONNS > 0 && FILES > 0 && FILE_KB > 0 && SOURCE_IPS > 0)) ||
    die "REPEATS, DURATION, CONNS, FILES, FILE_KB and SOURCE_IPS must be positive"
[[ -z $SHARDS || $SHARDS =~ ^[0-9]+$ ]] || die "SHARDS must be a whole number"
[[ -z $TORRENTS || $TORRENTS =~ ^[1-9][0-9]*$ ]] || die "TORRENTS must be a positive number"
for w in $WORKERS; do [[ $w =~ ^[1-9][0-9]*$ ]] || die "WORKERS must list positive numbers"; done
for s in $SERVERS; do
    case $s in vidseed | bittorrent-tracker | aquatic) ;; *) die "unknown server '$s' (vidseed bittorrent-tracker aquatic)" ;; esac
done
case $VIDSEED_LIMITS in off | default) ;; *) die "VIDSEED_LIMITS must be off or default" ;; esac
case $TLS in 0 | 1) ;; *) die "TLS must be 0 or 1" ;; esac
case $AQUATIC in 0 | 1 | auto) ;; *) die "AQUATIC must be 0, 1 or auto" ;; esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -f Cargo.toml && -d loadtest ]] || die "cannot find the repository root"

for tool in curl pgrep awk timeout head od; do
    command -v "$tool" > /dev/null || die "'$tool' is required"
done
if command -v jq > /dev/null; then
    info_hashes_of() { jq -r '.[].infoHash // empty' 2> /dev/null; }
elif command -v python3 > /dev/null; then
    info_hashes_of() { python3 -c 'import json,sys
for v in json.load(sys.stdin): print(v.get("infoHash") or "")' 2> /dev/null | sed '/^$/d'; }
else
    die "jq or python3 is required (to read vidseed's API)"
fi

TARGET_DIR=${CARGO_TARGET_DIR:-target}
LOAD_BIN=$TARGET_DIR/release/tracker-load
VIDSEED_BIN=$TARGET_DIR/release/vidseed
CLK_TCK=$(getconf CLK_TCK)

# Every server holds IDLE_PEERS sockets and the client as many: raise the descriptor limit.
need_fds=$((IDLE_PEERS + CONNS + 512))
if (($(ulimit -n) < need_fds)); then
    ulimit -n "$need_fds" 2> /dev/null || ulimit -n "$(ulimit -Hn)" 2> /dev/null || true
    (($(ulimit -n) >= need_fds)) || log "warning: ulimit -n is $(ulimit -n), below the $need_fds the idle test needs"
fi

# ------------------------------------------------------------------------------------------------
# Temporary directory and cleanup

TMP=""
declare -A PID=()
LOAD_PID="" # a load generator running in the background (idle test)

stop_server() { # name
    stop_pid "${PID[$1]:-}"
    PID[$1]=""
}

stop_all() {
    local s
    for s in "${!PID[@]}"; do stop_server "$s"; done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$LOAD_PID"
    stop_all
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ $KEEP_TMP == 1 ]]; then
            log "kept $TMP"
        else
            rm -rf -- "$TMP"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------------------------------------
# Tools

if [[ $BUILD == 1 ]]; then
    log "building tracker-load"
    cargo build --release -q -p vidseed-loadtest --bin tracker-load
    if has_server vidseed; then
        log "building vidseed"
        cargo build --release -q --bin vidseed
    fi
fi
[[ -x $LOAD_BIN ]] || die "$LOAD_BIN is missing (build with: cargo build --release -p vidseed-loadtest)"
if has_server vidseed; then
    [[ -x $VIDSEED_BIN ]] || die "$VIDSEED_BIN is missing"
fi

BTT_SCRIPT=loadtest/bittorrent-tracker-server.mjs
if has_server bittorrent-tracker; then
    if ! command -v "$NODE" > /dev/null; then
        log "note: $NODE not found: bittorrent-tracker is skipped"
        SERVERS=${SERVERS/bittorrent-tracker/}
    elif [[ ! -f tests/interop/node_modules/bittorrent-tracker/index.js && -z ${BITTORRENT_TRACKER_DIR:-} ]]; then
        log "note: bittorrent-tracker is not installed (npm ci --ignore-scripts --prefix tests/interop): skipped"
        SERVERS=${SERVERS/bittorrent-tracker/}
    fi
fi

if has_server aquatic; then
    if [[ $AQUATIC == 1 && ! -x $AQUATIC_BIN ]]; then
        # Without the default `prometheus` feature: its locked `metrics` 0.22 no longer compiles
        # with current Rust (E0521), and the benchmark needs no metrics endpoint.
        log "building aquatic_ws into $AQUATIC_ROOT (cargo install aquatic_ws --locked; several minutes)"
        mkdir -p "$AQUATIC_ROOT"
        if ! (cd "$AQUATIC_ROOT" && cargo install aquatic_ws --locked --no-default-features --features mimalloc \
            --root "$AQUATIC_ROOT" > "$AQUATIC_ROOT/install.log" 2>&1); then
            log "note: aquatic_ws did not build (see $AQUATIC_ROOT/install.log): aquatic is skipped"
        fi
    fi
    if [[ $AQUATIC == 0 || ! -x $AQUATIC_BIN ]]; then
        [[ $AQUATIC != 0 ]] && log "note: aquatic_ws is not installed at $AQUATIC_BIN (AQUATIC=1 builds it): aquatic is skipped"
        SERVERS=${SERVERS/aquatic/}
    fi
fi
SERVERS=$(echo $SERVERS) # squeeze the spaces left by removals
[[ -n $SERVERS ]] || die "no server left to measure"

for p in $PORT_VIDSEED $PORT_CONTROL $PORT_BTT $PORT_AQUATIC; do
    port_busy "$p" && die "port $p on 127.0.0.1 is in use (set PORT_VIDSEED/PORT_CONTROL/PORT_BTT/PORT_AQUATIC)"
done

TMP=$(mktemp -d -t tracker-vs-others.XXXXXX)
MEDIA=$TMP/media
mkdir -p "$MEDIA" "$TMP/state"
RESULTS=$TMP/results.tsv
IDLE_RESULTS=$TMP/idle.tsv
IH_FILE=$TMP/info-hashes.txt
: > "$RESULTS"
: > "$IDLE_RESULTS"

if [[ $TLS == 1 ]]; then
    command -v openssl > /dev/null || die "TLS=1 needs openssl (to make the test certificate)"
    CERT=$TMP/cert.pem KEY=$TMP/key.pem
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
        -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout "$KEY" -out "$CERT" 2> /dev/null ||
        die "openssl could not make the test certificate"
    SCHEME=wss
else
    SCHEME=ws
fi

# ------------------------------------------------------------------------------------------------
# Info-hashes: vidseed's published files, or random ones without vidseed

if has_server vidseed && [[ -z $TORRENTS ]]; then
    log "creating $FILES random files of $FILE_KB KiB in $MEDIA"
    for ((i = 0; i < FILES; i++)); do
        head -c "$((FILE_KB * 1024))" /dev/urandom > "$MEDIA/file-$i.bin"
    done
else
    # One od for all: 20 random bytes per line, as hex.
    od -An -v -tx1 -w20 -N$((20 * ${TORRENTS:-$FILES})) /dev/urandom | tr -d ' ' > "$IH_FILE"
fi

# ------------------------------------------------------------------------------------------------
# Servers

wait_log_line() { # name pid logfile pattern: until the log has a line matching pattern
    local name=$1 pid=$2 logfile=$3 pattern=$4 deadline=$((SECONDS + READY_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2> /dev/null; then
            log "$name exited during start-up; last lines of its log:"
            tail -n 30 "$logfile" >&2 || true
            return 1
        fi
        grep -q -- "$pattern" "$logfile" 2> /dev/null && return 0
        sleep 0.25
    done
    log "$name not ready within ${READY_TIMEOUT} s; last lines of its log:"
    tail -n 30 "$logfile" >&2 || true
    return 1
}

wait_port() { # name pid logfile port: until the port accepts connections
    local name=$1 pid=$2 logfile=$3 port=$4 deadline=$((SECONDS + READY_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2> /dev/null; then
            log "$name exited during start-up; last lines of its log:"
            tail -n 30 "$logfile" >&2 || true
            return 1
        fi
        port_busy "$port" && return 0
        sleep 0.25
    done
    log "$name does not accept connections on port $port within ${READY_TIMEOUT} s"
    tail -n 30 "$logfile" >&2 || true
    return 1
}

start_vidseed() { # workers
    local w=$1 cfg=$TMP/vidseed.toml deadline n TLS_ARGS=()
    [[ $TLS == 1 ]] && TLS_ARGS=(--tls-certificate "$CERT" --tls-private-key "$KEY")
    {
        if [[ $VIDSEED_LIMITS == off ]]; then
            echo "[http]"
            echo "max_connections_per_ip = 0"
        fi
        echo "[tracker]"
        [[ -n $SHARDS ]] && echo "shards = $SHARDS"
        [[ -n $TORRENTS ]] && echo "open = true"
        if [[ $VIDSEED_LIMITS == off ]]; then
            echo "max_connections_per_ip = 1000000"
            echo "max_messages_per_sec = 0"
            echo "max_announces_per_ip = 0"
            # The others bound no connection's swarms; a load connection joins thousands.
            echo "[tracker.swarm]"
            echo "max_swarms_per_conn = 1000000"
        fi
    } > "$cfg"
    # shellcheck disable=SC2086
    "$VIDSEED_BIN" serve "$MEDIA" \
        --data-listen "127.0.0.1:$PORT_VIDSEED" \
        --control-listen "127.0.0.1:$PORT_CONTROL" \
        --state "$TMP/state" \
        --data-workers "$w" \
        --config "$cfg" "${TLS_ARGS[@]}" $VIDSEED_ARGS > "$TMP/vidseed-w$w.log" 2>&1 &
    PID[vidseed]=$!
    if [[ -n $TORRENTS ]]; then # open tracker: ready when the data plane listens
        wait_port vidseed "${PID[vidseed]}" "$TMP/vidseed-w$w.log" "$PORT_VIDSEED"
        return
    fi
    # Ready when the API lists every file with its info-hash (the files are hashed first).
    deadline=$((SECONDS + READY_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "${PID[vidseed]}" 2> /dev/null; then
            log "vidseed exited during start-up; last lines of its log:"
            tail -n 30 "$TMP/vidseed-w$w.log" >&2 || true
            return 1
        fi
        curl --noproxy '*' -s --max-time 2 "http://127.0.0.1:$PORT_CONTROL/api/v1/videos" 2> /dev/null |
            info_hashes_of > "$IH_FILE.new" || true
        n=$(grep -c -E '^[0-9a-fA-F]{40}$' "$IH_FILE.new" || true)
        if ((n >= FILES)); then
            mv "$IH_FILE.new" "$IH_FILE"
            return 0
        fi
        sleep 0.25
    done
    log "vidseed did not list $FILES videos within ${READY_TIMEOUT} s (had ${n:-0}); last lines of its log:"
    tail -n 30 "$TMP/vidseed-w$w.log" >&2 || true
    return 1
}

start_btt() {
    local tls=()
    [[ $TLS == 1 ]] && tls=(--tls "$CERT" "$KEY")
    "$NODE" --expose-gc "$BTT_SCRIPT" "$PORT_BTT" 127.0.0.1 "${tls[@]}" > "$TMP/bittorrent-tracker.log" 2>&1 &
    PID[bittorrent-tracker]=$!
    wait_log_line bittorrent-tracker "${PID[bittorrent-tracker]}" "$TMP/bittorrent-tracker.log" '^listening'
}

start_aquatic() { # 0 if it runs; otherwise aquatic is dropped from SERVERS with a note
    local cfg=$TMP/aquatic.toml
    if ! "$AQUATIC_BIN" -p > "$TMP/aquatic-default.toml" 2> "$TMP/aquatic.log"; then
        log "note: '$AQUATIC_BIN -p' failed: aquatic is skipped"
        return 1
    fi
    # The printed defaults, changed for the measurement (lib.sh).
    aquatic_config "$TMP/aquatic-default.toml" "127.0.0.1:$PORT_AQUATIC" "$TLS" "${CERT:-}" "${KEY:-}" > "$cfg"
    "$AQUATIC_BIN" -c "$cfg" > "$TMP/aquatic.log" 2>&1 &
    PID[aquatic]=$!
    if ! wait_port aquatic "${PID[aquatic]}" "$TMP/aquatic.log" "$PORT_AQUATIC"; then
        log "note: aquatic_ws did not start (it needs io_uring and locked memory; see above): aquatic is skipped"
        stop_server aquatic
        return 1
    fi
}

server_url() {
    case $1 in
        vidseed) echo "$SCHEME://127.0.0.1:$PORT_VIDSEED/tracker/socket" ;;
        bittorrent-tracker) echo "$SCHEME://127.0.0.1:$PORT_BTT/tracker/socket" ;;
        aquatic) echo "$SCHEME://127.0.0.1:$PORT_AQUATIC/tracker/socket" ;;
    esac
}

# ------------------------------------------------------------------------------------------------
# CPU and memory accounting

busy_ticks() { # all CPUs, ticks since boot from /proc/stat: "user+nice+system irq+softirq"
    # (softirq time, e.g. loopback TCP receive work, is charged to no process)
    awk '/^cpu / { print $2 + $3 + $4, $7 + $8; exit }' /proc/stat
}

rss_anon_kib() { # pid -> RssAnon in KiB
    awk '/^RssAnon:/ { print $2; exit }' "/proc/$1/status" 2> /dev/null || echo 0
}

settle_memory() { # server: let a garbage-collected server collect first (node: SIGUSR2 -> gc())
    local n i logfile=$TMP/bittorrent-tracker.log
    [[ $1 == bittorrent-tracker ]] || return 0
    n=$(grep -c '^memory' "$logfile" || true)
    kill -USR2 "${PID[$1]}" 2> /dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        (($(grep -c '^memory' "$logfile" || true) > n)) && break
        sleep 0.1
    done
}

others_now() { # what else is using CPU: the busiest processes other than ours, for the log
    ps -eo pcpu=,comm= --sort=-pcpu 2> /dev/null | awk '$1 > 5 { printf "%s%s %s%%", sep, $2, $1; sep = ", " }' | head -c 200
}

vidseed_dropped() { # replies vidseed has shed so far (full per-connection queues), from /tracker/stats
    local stats
    stats=$(curl --noproxy '*' -k -s --max-time 5 "${SCHEME/ws/http}://127.0.0.1:$PORT_VIDSEED/tracker/stats" 2> /dev/null || true)
    jnum dropped "$stats" | grep . || echo NA
}

ANY_ERRORS=0

# ------------------------------------------------------------------------------------------------
# Idle peers: memory per connected peer

idle_one() { # server
    local server=$1 pid url ready before after json rc=0 announced lpid k i src
    pid=${PID[$server]}
    url=$(server_url "$server")
    ready=$TMP/idle-ready-$server
    rm -f "$ready"
    # A source address per 50 peers keeps vidseed's default per-IP connection limit (64) out of
    # the way, and the torrents are taken in turn, so no address announces a torrent twice.
    src=$(((IDLE_PEERS + 49) / 50))
    settle_memory "$server"
    before=$(rss_anon_kib "$pid")
    timeout -k 5 $((IDLE_HOLD + 120)) "$LOAD_BIN" --idle --url "$url" --connections "$IDLE_PEERS" \
        --duration "$IDLE_HOLD" --info-hash-file "$IH_FILE" --source-ips "$src" \
        --ready-file "$ready" --label "idle-$server" --json > "$TMP/idle-$server.json" 2> "$TMP/idle-$server.err" &
    lpid=$!
    LOAD_PID=$lpid
    for ((i = 0; i < 1200; i++)); do # at most 120 s
        [[ -f $ready ]] && break
        kill -0 "$lpid" 2> /dev/null || break
        sleep 0.1
    done
    sleep 1 # let the server finish what the last announces started
    settle_memory "$server"
    after=$(rss_anon_kib "$pid")
    wait "$lpid" || rc=$?
    LOAD_PID=""
    json=$(cat "$TMP/idle-$server.json")
    if [[ $rc -ne 0 || -z $json ]]; then
        log "  idle $server: load generator failed (exit $rc): $(head -c 300 "$TMP/idle-$server.err")"
        ANY_ERRORS=1
        return 0
    fi
    announced=$(jnum announced "$json")
    awk -v s="$server" -v n="$IDLE_PEERS" -v ok="$announced" -v b="$before" -v a="$after" \
        -v conn="$(jnum connected "$json")" -v err="$(jnum resp_error "$json")" 'BEGIN {
            per = ok > 0 ? sprintf("%.2f", (a - b) / ok) : "NA"
            printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s, n, conn, ok, err, b, a, per
            printf "  idle %-18s %5s peers: %5s connected, %5s announced, %4s refused  RssAnon %7d -> %7d KiB = %6s KiB/peer\n",
                s, n, conn, ok, err, b, a, per | "cat 1>&2"
        }' >> "$IDLE_RESULTS"
    if [[ $announced != "$IDLE_PEERS" ]]; then
        log "    first problem: $(sed -n 's/.*"first_error":\("[^"]*"\).*/\1/p' <<< "$json")"
    fi
}

# ------------------------------------------------------------------------------------------------
# Load runs

run_one() { # server workers repeat
    local server=$1 w=$2 rep=$3 pid url json rc t0 t1 b0 b1 rss d0=NA d1=NA dropped=NA
    pid=${PID[$server]}
    url=$(server_url "$server")
    t0=$(proc_ticks "$pid")
    [[ $server == vidseed ]] && d0=$(vidseed_dropped)
    read -r b0 s0 <<< "$(busy_ticks)"
    rc=0
    json=$(timeout -k 5 $((DURATION + 60)) "$LOAD_BIN" --url "$url" --connections "$CONNS" \
        --threads "$THREADS" --duration "$DURATION" --offers "$OFFERS" --info-hash-file "$IH_FILE" \
        --source-ips "$SOURCE_IPS" --seed "$rep" --report-every "$REPORT_EVERY" --label "$server/w$w/$rep" \
        --json 2> "$TMP/load.err") || rc=$?
    read -r b1 s1 <<< "$(busy_ticks)"
    t1=$(proc_ticks "$pid")
    rss=$(rss_anon_kib "$pid")
    [[ $server == vidseed ]] && d1=$(vidseed_dropped)
    [[ $d0 != NA && $d1 != NA ]] && dropped=$((d1 - d0))
    if [[ $rc -ne 0 || -z $json ]]; then
        log "  $server w=$w #$rep: load generator failed (exit $rc): $(head -c 300 "$TMP/load.err")"
        printf '%s\t%s\t%s\tNA\tNA\tNA\tNA\tNA\tNA\tfail\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n' "$w" "$server" "$rep" >> "$RESULTS"
        ANY_ERRORS=1
        return 0
    fi
    local rps qps responses elapsed client errors disc stalls reasons intervals
    rps=$(jnum responses_per_s "$json")
    qps=$(jnum requests_per_s "$json")
    responses=$(jnum responses "$json")
    elapsed=$(jnum elapsed_s "$json")
    client=$(jnum client_cpu_s "$json")
    errors=$(jnum resp_error "$json")
    disc=$(jnum disconnects "$json")
    stalls=$(jnum stalls "$json")
    reasons=$(sed -n 's/.*"error_reasons":\({[^}]*}\).*/\1/p' <<< "$json")
    ((disc == 0)) || ANY_ERRORS=1
    awk -v w="$w" -v server="$server" -v rep="$rep" -v rps="$rps" -v qps="$qps" -v resp="$responses" \
        -v el="$elapsed" -v client="${client:-0}" -v errors="$errors" -v disc="$disc" -v stalls="$stalls" \
        -v dt=$((t1 - t0)) -v busy=$((b1 - b0)) -v soft=$((s1 - s0)) -v tck="$CLK_TCK" -v rss="$rss" \
        -v dropped="$dropped" -v loadavg="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
            cpu = dt / tck
            per = resp > 0 ? sprintf("%.2f", cpu * 1e6 / resp) : "NA"
            share = el > 0 ? cpu / el : 0
            cshare = el > 0 ? client / el : 0
            other = el > 0 ? (busy / tck - cpu - client) / el : 0
            if (other < 0) other = 0
            sirq = el > 0 ? soft / tck / el : 0
            # Responses that are not a `failure reason`: servers differ in which requests get an
            # error reply and which get none (vidseed answers an answer it cannot relay).
            okrps = resp > 0 ? rps * (resp - errors) / resp : 0
            printf "%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%.3f\t%.3f\t%s\t%s\t%s\t%.3f\t%s\t%s\t%s\t%.1f\n",
                w, server, rep, rps, qps, per, share, cshare, other, errors, disc, stalls, sirq, rss, loadavg, dropped, okrps
            printf "  %-18s w=%s #%s %8.0f resp/s %8.0f req/s  server CPU %5.2f s = %6s us/resp (%3.0f%% of a core)  client %3.0f%%  others %3.0f%%  softirq %3.0f%%  RssAnon %6.1f MiB  errors %s disc %s stalls %s (load %s)\n",
                server, w, rep, rps, qps, cpu, per, share * 100, cshare * 100, other * 100, sirq * 100, rss / 1024, errors, disc, stalls, loadavg | "cat 1>&2"
        }' >> "$RESULTS"
    if [[ $dropped != NA ]]; then
        log "    replies vidseed dropped (full connection queues, from /tracker/stats): $dropped ($(awk -v d="$dropped" -v r="$responses" 'BEGIN { printf "%.2f", (r > 0 ? d / r : 0) }') per response read)"
    fi
    if [[ -n $reasons && $reasons != "{}" ]]; then
        log "    error reasons: $reasons"
    fi
    intervals=$(sed -n 's/.*"interval_responses_per_s":\[\([^]]*\)\].*/\1/p' <<< "$json" | tr ',' ' ')
    if (($(wc -w <<< "$intervals") > 1)); then
        log "    resp/s every ${REPORT_EVERY} s: $(awk '{ for (i = 1; i <= NF; i++) printf "%s%.0f", (i > 1 ? " " : ""), $i }' <<< "$intervals")"
    fi
}

# ------------------------------------------------------------------------------------------------
# Main

VIDSEED_REV=$(git rev-parse --short HEAD 2> /dev/null || echo unknown)
git diff --quiet HEAD 2> /dev/null || VIDSEED_REV="$VIDSEED_REV+dirty"
{
    echo "tracker-vs-others: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -sr), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "  servers: $SERVERS over $SCHEME://; vidseed rev $VIDSEED_REV (limits $VIDSEED_LIMITS, shards ${SHARDS:-default})"
    if has_server bittorrent-tracker; then
        echo "  bittorrent-tracker $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' tests/interop/node_modules/bittorrent-tracker/package.json 2> /dev/null | head -1), node $("$NODE" --version)"
    fi
    if has_server aquatic; then echo "  aquatic: $("$AQUATIC_BIN" -v 2> /dev/null | head -1 || echo "$AQUATIC_BIN")"; fi
    echo "  $CONNS connections x $THREADS thread(s), $OFFERS offers/announce, $REPEATS repeat(s) of ${DURATION} s; idle test: $( ((IDLE == 1)) && echo "$IDLE_PEERS peers" || echo off)"
    echo "  busy processes now: $(others_now)"
} >&2

first_w=1
for w in $WORKERS; do
    log ""
    log "== vidseed workers=$w: starting servers"
    if has_server vidseed; then start_vidseed "$w" || die "vidseed did not start"; fi
    if ((first_w)); then
        # The other servers stay up across the worker counts.
        if has_server bittorrent-tracker; then start_btt || die "bittorrent-tracker did not start"; fi
        if has_server aquatic; then
            start_aquatic || SERVERS=$(echo ${SERVERS/aquatic/})
        fi
    fi
    for s in $SERVERS; do wait_idle "$s" "${PID[$s]}"; done
    log "  $(wc -l < "$IH_FILE") info-hashes"
    if ((IDLE == 1)) && ((first_w)); then
        log "== memory per idle peer ($IDLE_PEERS peers each, fresh processes)"
        for s in $SERVERS; do
            idle_one "$s"
            sleep "$PAUSE"
            wait_idle "$s" "${PID[$s]}"
        done
    fi
    log "== load runs"
    n=$(wc -w <<< "$SERVERS")
    for ((rep = 1; rep <= REPEATS; rep++)); do
        # Rotate the order so that no server always runs first.
        order=$(tr ' ' '\n' <<< "$SERVERS" | awk -v r="$rep" -v n="$n" '{ a[NR - 1] = $0 } END { for (i = 0; i < n; i++) print a[(i + r - 1) % n] }')
        for s in $order; do
            if [[ $s != vidseed && $first_w == 0 ]]; then continue; fi
            run_one "$s" "$w" "$rep"
            sleep "$PAUSE"
            # A server that queued more than it could send (bittorrent-tracker's queues are
            # unbounded) goes on working after its run: the next run waits until it is done.
            for q in $SERVERS; do wait_idle "$q" "${PID[$q]}"; done
        done
    done
    stop_server vidseed
    first_w=0
done

# ------------------------------------------------------------------------------------------------
# Summary: medians over repeats, ratios

[[ -n $OUT ]] && cp "$RESULTS" "$OUT"

if [[ -s $IDLE_RESULTS ]]; then
    log ""
    awk -F '\t' '
        BEGIN { printf "== memory per idle peer (RssAnon after - before, per announced peer) ==\n%-20s %7s %9s %9s %8s %11s %11s %9s\n", "server", "peers", "connected", "announced", "refused", "before KiB", "after KiB", "KiB/peer" }
        { printf "%-20s %7s %9s %9s %8s %11s %11s %9s\n", $1, $2, $3, $4, $5, $6, $7, $8
          lines[++n] = sprintf("IDLE server=%s peers=%s announced=%s rss_before_kib=%s rss_after_kib=%s kib_per_peer=%s", $1, $2, $4, $6, $7, $8)
          kib[$1] = $8 }
        END {
            for (i = 1; i <= n; i++) print lines[i]
            if ("vidseed" in kib) for (s in kib) if (s != "vidseed" && kib[s] + 0 > 0 && kib["vidseed"] != "NA")
                printf "RATIO idle_kib_per_peer vidseed/%s=%.2f\n", s, kib["vidseed"] / kib[s]
        }' "$IDLE_RESULTS"
fi

awk -F '\t' -v conns="$CONNS" -v threads="$THREADS" -v dur="$DURATION" -v reps="$REPEATS" -v offers="$OFFERS" '
function median(list,    n, a, i, j, t) {
    n = split(list, a, " ")
    if (n == 0) return "NA"
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function add(key, v) { if (v != "NA" && v != "") vals[key] = vals[key] " " v }
function ratio(a, b) { return (a == "NA" || b == "NA" || b + 0 == 0) ? "NA" : sprintf("%.2f", a / b) }
function fmt(v, f) { return v == "NA" ? "NA" : sprintf(f, v) }
BEGIN { nm = split("rps qps cpuresp share client other sirq rss dropped okrps", metric, " ") }
{
    g = $1
    if (!(g in seen)) { seen[g] = 1; order[++ng] = g }
    k = g SUBSEP $2
    if (!(k in hasrun)) { hasrun[k] = 1; srvorder[g] = srvorder[g] " " $2 }
    add(k SUBSEP "rps", $4); add(k SUBSEP "qps", $5); add(k SUBSEP "cpuresp", $6)
    add(k SUBSEP "share", $7); add(k SUBSEP "client", $8); add(k SUBSEP "other", $9)
    add(k SUBSEP "sirq", $13); add(k SUBSEP "rss", $14); add(k SUBSEP "dropped", $16); add(k SUBSEP "okrps", $17)
    if ($10 == "fail") failed[k]++; else { err[k] += $10; disc[k] += $11; stalls[k] += $12 }
}
END {
    for (i = 1; i <= ng; i++) {
        w = order[i]
        printf "\n== load: vidseed workers=%s, %s conns x %s threads, %s offers, %s s, median of %s ==\n", w, conns, threads, offers, dur, reps
        printf "%-20s %9s %9s %11s %11s %8s %8s %8s %9s %8s %8s %5s %6s\n", "server", "resp/s", "req/s", "non-error/s", "CPU us/resp", "server %", "client %", "others %", "softirq %", "RSS MiB", "errors", "disc", "stalls"
        delete med
        ns = split(srvorder[w], srv, " ")
        for (j = 1; j <= ns; j++) {
            k = w SUBSEP srv[j]
            for (m = 1; m <= nm; m++) med[srv[j], metric[m]] = median(vals[k SUBSEP metric[m]])
            e = err[k] + 0; if (failed[k]) e = e " +" failed[k] " failed"
            printf "%-20s %9s %9s %11s %11s %8s %8s %8s %9s %8s %8s %5s %6s\n", srv[j],
                fmt(med[srv[j], "rps"], "%.0f"), fmt(med[srv[j], "qps"], "%.0f"), fmt(med[srv[j], "okrps"], "%.0f"), fmt(med[srv[j], "cpuresp"], "%.2f"),
                fmt(med[srv[j], "share"] * 100, "%.0f"), fmt(med[srv[j], "client"] * 100, "%.0f"), fmt(med[srv[j], "other"] * 100, "%.0f"),
                fmt(med[srv[j], "sirq"] * 100, "%.0f"), fmt(med[srv[j], "rss"] / 1024, "%.1f"), e, disc[k] + 0, stalls[k] + 0
            machine[++nl] = sprintf("RESULT server=%s workers=%s resp_per_s=%s non_error_resp_per_s=%s req_per_s=%s cpu_us_per_resp=%s server_cpu_share=%s client_cpu_share=%s others_cpu_share=%s softirq_share=%s rss_anon_kib=%s errors=%s disconnects=%s%s",
                srv[j], w, med[srv[j], "rps"], med[srv[j], "okrps"], med[srv[j], "qps"], med[srv[j], "cpuresp"], med[srv[j], "share"],
                med[srv[j], "client"], med[srv[j], "other"], med[srv[j], "sirq"], med[srv[j], "rss"], err[k] + 0 + failed[k], disc[k] + 0,
                med[srv[j], "dropped"] == "NA" ? "" : " dropped_replies=" med[srv[j], "dropped"])
        }
        for (j = 1; j <= ns; j++) {
            o = srv[j]
            if (o == "vidseed" || !((w SUBSEP "vidseed") in hasrun)) continue
            r_rps = ratio(med["vidseed", "rps"], med[o, "rps"]); r_cpu = ratio(med["vidseed", "cpuresp"], med[o, "cpuresp"])
            r_ok = ratio(med["vidseed", "okrps"], med[o, "okrps"])
            printf "vidseed/%s: resp/s %s, non-error resp/s %s, CPU/resp %s  (>1 is better for resp/s, worse for CPU/resp)\n", o, r_rps, r_ok, r_cpu
            machine[++nl] = sprintf("RATIO vidseed/%s workers=%s resp_per_s=%s non_error_resp_per_s=%s cpu_per_resp=%s", o, w, r_rps, r_ok, r_cpu)
        }
    }
    print ""
    for (i = 1; i <= nl; i++) print machine[i]
}' "$RESULTS"

exit "$ANY_ERRORS"
