#!/usr/bin/env bash
# webseed-cold.sh: serving a file set larger than memory — does a read that misses the page cache
# stall the other connections? vidseed and nginx (sendfile on, one worker each) each run in a
# memory cgroup of MEM_MB (cgroup v1 or v2; the page cache a server reads is charged to it), so
# a FILE_GB file is "larger than memory" for it. Per server and run, at the same time:
#   - the cold load: CONNS connections of 1 MiB random ranges over the big file;
#   - the hot probe: 4 connections of 16 KiB ranges of a 1 MiB file read again and again.
# Reported: the cold load's MB/s and p99, the hot probe's req/s and p99 (a server whose event
# loop blocks on disk reads makes the hot probe wait behind them), and the server's CPU.
#
#   loadtest/webseed-cold.sh
#   FILE_GB=4 MEM_MB=512 DURATION=10 loadtest/webseed-cold.sh
#   VIDSEED_ARGS="--io epoll" loadtest/webseed-cold.sh
#
# Settings: FILE_GB [8], MEM_MB [1024], CONNS [32], DURATION [15], REPEATS [2], SERVERS
# ["nginx vidseed"], VIDSEED_ARGS [], PORT_NGINX [18491], PORT_VIDSEED [18492], PORT_CONTROL
# [18493], BUILD [1]. Needs root (cgroups) and nginx (installed from Debian's packages if missing).

set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
export LC_ALL=C
FILE_GB=${FILE_GB:-8}
MEM_MB=${MEM_MB:-1024}
CONNS=${CONNS:-32}
DURATION=${DURATION:-15}
REPEATS=${REPEATS:-2}
SERVERS=${SERVERS:-"nginx vidseed"}
VIDSEED_ARGS=${VIDSEED_ARGS:-}
PORT_NGINX=${PORT_NGINX:-18491}
PORT_VIDSEED=${PORT_VIDSEED:-18492}
PORT_CONTROL=${PORT_CONTROL:-18493}
BUILD=${BUILD:-1}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-target}
LOAD_BIN=$TARGET_DIR/release/webseed-load
VIDSEED_BIN=$TARGET_DIR/release/vidseed
CLK_TCK=$(getconf CLK_TCK)
die() { log "webseed-cold: $*"; exit 1; }
[[ $EUID -eq 0 ]] || die "needs root for the memory cgroups"

if [[ $BUILD == 1 ]]; then
    cargo build --release -q -p vidseed-loadtest --bin webseed-load && cargo build --release -q --bin vidseed
fi
NGINX=$(find_nginx)
[[ -n $NGINX ]] || die "nginx is still not available"

# A memory cgroup per server: v2 (memory.max) or v1 (memory.limit_in_bytes).
cgroup_make() { # name -> path
    local p
    if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
        p=/sys/fs/cgroup/$1
        mkdir -p "$p" && echo "$((MEM_MB * 1024 * 1024))" > "$p/memory.max"
    else
        p=/sys/fs/cgroup/memory/$1
        mkdir -p "$p" && echo "$((MEM_MB * 1024 * 1024))" > "$p/memory.limit_in_bytes"
    fi
    echo "$p"
}

TMP=$(mktemp -d -t webseed-cold.XXXXXX)
PIDS=()
GROUPS_MADE=()
cleanup() {
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    for g in "${GROUPS_MADE[@]}"; do rmdir "$g" 2> /dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$TMP/media" "$TMP/nginx" "$TMP/state"
log "webseed-cold: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, $(free -g | awk '/^Mem/ { print $2 }') GiB of memory, vidseed rev $(git rev-parse --short HEAD 2> /dev/null || echo unknown), ${FILE_GB} GiB file, ${MEM_MB} MiB cgroup per server, vidseed args '$VIDSEED_ARGS'"
log "creating the ${FILE_GB} GiB file and the 1 MiB hot file"
head -c "$((FILE_GB * 1024 * 1024 * 1024))" /dev/urandom > "$TMP/media/cold.bin"
head -c 1048576 /dev/urandom > "$TMP/media/hot.bin"
COLD_SIZE=$(stat -c %s "$TMP/media/cold.bin")

start_in_group() { # group logfile command...: starts the command inside the cgroup, sets PID
    local group=$1 logfile=$2
    shift 2
    sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$group" "$@" > "$logfile" 2>&1 &
    PID=$!
    PIDS+=("$PID")
}

wait_ready() { # url pid
    local i
    for ((i = 0; i < 600; i++)); do
        kill -0 "$2" 2> /dev/null || return 1
        [[ $(curl --noproxy '*' -s -o /dev/null -I --max-time 2 -w '%{http_code}' "$1" || true) == 200 ]] && return 0
        sleep 0.5
    done
    return 1
}

declare -A PID_OF URL_OF
for s in $SERVERS; do
    g=$(cgroup_make "webseed-cold-$s-$$")
    GROUPS_MADE+=("$g")
    case $s in
        nginx)
            cat > "$TMP/nginx/nginx.conf" << EOF
user root;
daemon off;
worker_processes 1;
pid "$TMP/nginx/nginx.pid";
error_log "$TMP/nginx/error.log" warn;
events { worker_connections 4096; }
http {
    sendfile on; tcp_nopush on; tcp_nodelay on; access_log off;
    keepalive_requests 1000000; keepalive_timeout 65;
    client_body_temp_path "$TMP/nginx"; proxy_temp_path "$TMP/nginx"; fastcgi_temp_path "$TMP/nginx";
    uwsgi_temp_path "$TMP/nginx"; scgi_temp_path "$TMP/nginx";
    server {
        listen 127.0.0.1:$PORT_NGINX;
        location /static/webseed/ { alias "$TMP/media/"; add_header Access-Control-Allow-Origin * always; }
    }
}
EOF
            start_in_group "$g" "$TMP/nginx.log" "$NGINX" -p "$TMP/nginx/" -c "$TMP/nginx/nginx.conf"
            PID_OF[$s]=$PID
            URL_OF[$s]=http://127.0.0.1:$PORT_NGINX/static/webseed
            ;;
        vidseed)
            # shellcheck disable=SC2086
            start_in_group "$g" "$TMP/vidseed.log" "$VIDSEED_BIN" serve "$TMP/media" --data-listen "127.0.0.1:$PORT_VIDSEED" \
                --control-listen "127.0.0.1:$PORT_CONTROL" --state "$TMP/state" --data-workers 1 $VIDSEED_ARGS
            PID_OF[$s]=$PID
            URL_OF[$s]=http://127.0.0.1:$PORT_VIDSEED/static/webseed
            ;;
        *) die "unknown server $s" ;;
    esac
    wait_ready "${URL_OF[$s]}/cold.bin" "${PID_OF[$s]}" || die "$s did not start (log in $TMP)"
    wait_idle "$s" "${PID_OF[$s]}"
done

drop_cache() { # the big file out of the page cache (pages still mapped by a process stay)
    python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$TMP/media/cold.bin"
}

printf 'server\trun\tcold_MBps\tcold_p99_ms\thot_rps\thot_p99_ms\tserver_cpu_s\terrors\n' > "$TMP/results.tsv"
for ((rep = 1; rep <= REPEATS; rep++)); do
    for s in $SERVERS; do
        drop_cache
        pid=${PID_OF[$s]}
        t0=$(tree_ticks "$pid")
        "$LOAD_BIN" --url "${URL_OF[$s]}/hot.bin" --connections 4 --duration "$DURATION" --range-size 16384 \
            --file-size 1048576 --seed "$rep" --json > "$TMP/hot.json" 2> /dev/null &
        hot=$!
        "$LOAD_BIN" --url "${URL_OF[$s]}/cold.bin" --connections "$CONNS" --duration "$DURATION" --range-size 1048576 \
            --align 1048576 --file-size "$COLD_SIZE" --seed "$rep" --json > "$TMP/cold.json" 2> /dev/null || true
        wait "$hot" || true
        t1=$(tree_ticks "$pid")
        cold=$(cat "$TMP/cold.json")
        hotj=$(cat "$TMP/hot.json")
        e1=$(jnum errors "$cold")
        e2=$(jnum errors "$hotj")
        cpu=$(awk -v t=$((t1 - t0)) -v c="$CLK_TCK" 'BEGIN { printf "%.2f", t / c }')
        line=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$s" "$rep" "$(jnum mb_per_s "$cold")" "$(jnum lat_p99_ms "$cold")" \
            "$(jnum get_rps "$hotj")" "$(jnum lat_p99_ms "$hotj")" "$cpu" "$((${e1:-1} + ${e2:-1}))")
        echo "$line" >> "$TMP/results.tsv"
        log "  $line"
        sleep 1
    done
done

printf '\n| server | run | cold 1 MiB MB/s | cold p99 ms | hot 16 KiB req/s | hot p99 ms | server CPU s | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|\n'
tail -n +2 "$TMP/results.tsv" | awk -F '\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
