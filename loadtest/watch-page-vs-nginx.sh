#!/usr/bin/env bash
# watch-page-vs-nginx.sh: the watch page in headless Chromium (Debian's, driven by playwright-core
# through tests/interop/watch_page.mjs), fed by one local WebSeed: vidseed's data plane, then
# nginx serving the same file, for several piece lengths.
#
# vidseed's control plane serves the page and the torrent in both cases; for nginx it runs with
# `--public-url` pointing at nginx, so the torrent's url-list (the page's only WebSeed) is nginx's
# URL for the same file (the tracker URL then points at nginx too, which has none: with one
# viewer per run there is no peer to find either way) (nginx gets the CORS set-up WebTorrent needs: a 204 preflight allowing
# Cache-Control and Range, Access-Control-Allow-Origin on every answer). Every run is a fresh
# Chromium with a fresh profile. Measured per run, in the page:
#   first frame   ms from navigation start to the first video frame painted
#   rate          file size / (download done - torrent ready): the sustained download rate
# The summary gives medians per piece length and server, and vidseed/nginx.
#
# Everything runs inside a network namespace of its own with only loopback (needs root, like the
# browser tests): nothing reaches the machine's network.
#
#   loadtest/watch-page-vs-nginx.sh
#   SIZE_MIB=20 RUNS=1 PIECES="262144" loadtest/watch-page-vs-nginx.sh      # quick smoke
#
# Settings (environment variables, defaults in brackets):
#   SIZE_MIB [100]      size of the test video (H.264/AAC MP4, index first, made once by ffmpeg
#                       and cached in VIDEO_DIR)
#   PIECES ["16384 262144 1048576"]   piece lengths (bytes) to measure
#   RUNS [3]            page loads per piece length and server
#   SERVERS ["vidseed nginx"]
#   BUILD [1]           build vidseed (release) first; 0 uses target/release/vidseed as it is
#   VIDEO_DIR [${XDG_CACHE_HOME:-$HOME/.cache}/vidseed-loadtest]
#   OUT []              if set, every run's findings (JSON lines) are copied there
#   KEEP_TMP [0]        1 keeps the temporary directory (logs, configs)

set -euo pipefail
SELF=$(realpath "${BASH_SOURCE[0]}") # re-run inside the namespace from wherever it was started
source "$(dirname "$SELF")/lib.sh"
export LC_ALL=C

SIZE_MIB=${SIZE_MIB:-100}
PIECES=${PIECES:-"16384 262144 1048576"}
RUNS=${RUNS:-3}
SERVERS=${SERVERS:-"vidseed nginx"}
BUILD=${BUILD:-1}
VIDEO_DIR=${VIDEO_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vidseed-loadtest}
OUT=${OUT:-}
KEEP_TMP=${KEEP_TMP:-0}
PORT_CONTROL=18591 PORT_DATA=18592 PORT_NGINX=18593

die() { log "watch-page-vs-nginx: $*"; exit 1; }

for v in SIZE_MIB RUNS; do [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number"; done
((SIZE_MIB >= 2)) || die "SIZE_MIB must be at least 2 (100 s of video at a bitrate that fills it)"
for p in $PIECES; do [[ $p =~ ^[1-9][0-9]*$ ]] || die "PIECES must list byte counts"; done
for s in $SERVERS; do case $s in vidseed | nginx) ;; *) die "unknown server '$s' (vidseed nginx)" ;; esac; done

cd "$(dirname "$SELF")/.."
[[ -f Cargo.toml && -d loadtest ]] || die "cannot find the repository root"
VIDEO=$VIDEO_DIR/watch-page-${SIZE_MIB}MiB.mp4

# ------------------------------------------------------------------------------------------------
# Outside the namespace: tools, build, the test video. Then the rest runs again inside it.

if [[ -z ${WATCH_PAGE_IN_NETNS:-} ]]; then
    [[ $EUID -eq 0 ]] || die "needs root (a network namespace of its own: unshare --net)"
    for tool in unshare ip ffmpeg node curl; do command -v "$tool" > /dev/null || die "'$tool' is required"; done
    [[ -x /usr/bin/chromium || -n ${CHROMIUM:-} ]] || die "Chromium is required (apt-get install chromium)"
    if has_server nginx; then command -v nginx > /dev/null || die "nginx is required (apt-get install nginx)"; fi
    [[ -d tests/interop/node_modules/playwright-core ]] ||
        npm ci --ignore-scripts --no-audit --no-fund --prefix tests/interop > /dev/null
    if [[ $BUILD == 1 ]]; then
        log "building vidseed (release)"
        cargo build --release -q --bin vidseed
    fi
    if [[ ! -s $VIDEO ]]; then
        mkdir -p "$VIDEO_DIR"
        # 100 s of 1280x720 at a constant bitrate that makes the file SIZE_MIB MiB.
        kbps=$((SIZE_MIB * 8 * 1024 * 1024 / 100 / 1000 - 100))
        log "making a ${SIZE_MIB} MiB test video (ffmpeg, ${kbps} kbit/s)"
        ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=25 \
            -f lavfi -i sine=frequency=440:sample_rate=44100 -t 100 -c:v libx264 -preset ultrafast \
            -b:v "${kbps}k" -minrate "${kbps}k" -maxrate "${kbps}k" -bufsize "$((kbps * 2))k" -x264-params nal-hrd=cbr \
            -g 50 -pix_fmt yuv420p -c:a aac -b:a 96k -movflags +faststart "$VIDEO.tmp.mp4"
        mv "$VIDEO.tmp.mp4" "$VIDEO"
    fi
    export WATCH_PAGE_IN_NETNS=1
    exec unshare --net -- sh -c 'ip link set lo up && exec "$0" "$@"' "$SELF" "$@"
fi

# ------------------------------------------------------------------------------------------------
# Inside the namespace

VIDSEED_BIN=${CARGO_TARGET_DIR:-target}/release/vidseed
[[ -x $VIDSEED_BIN ]] || die "$VIDSEED_BIN is missing (BUILD=1 builds it)"
TMP=$(mktemp -d -t watch-page-vs-nginx.XXXXXX)
MEDIA=$TMP/media
mkdir -p "$MEDIA"
ln -s "$VIDEO" "$MEDIA/video.mp4"
RESULTS=$TMP/results.jsonl
: > "$RESULTS"
VIDSEED_PID="" NGINX_PID=""

cleanup() {
    local rc=$?
    stop_pid "$VIDSEED_PID"
    stop_pid "$NGINX_PID"
    [[ -n $OUT ]] && cp "$RESULTS" "$OUT"
    if [[ $KEEP_TMP == 1 ]]; then log "kept $TMP"; else rm -rf -- "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT

wait_url() { # url pid log
    local i
    for ((i = 0; i < 600; i++)); do
        curl -fsS -o /dev/null "$1" 2> /dev/null && return 0
        kill -0 "$2" 2> /dev/null || { cat "$3" >&2; die "server exited"; }
        sleep 0.1
    done
    die "$1 did not answer within 60 s"
}

start_nginx() {
    local d=$TMP/nginx
    mkdir -p "$d/tmp"
    cat > "$d/nginx.conf" << EOF
user root;
daemon off;
worker_processes 1;
pid "$d/nginx.pid";
error_log "$d/error.log" warn;
events { worker_connections 1024; }
http {
    default_type application/octet-stream;
    types { video/mp4 mp4; }
    sendfile on;
    tcp_nopush on;
    access_log off;
    client_body_temp_path "$d/tmp"; proxy_temp_path "$d/tmp"; fastcgi_temp_path "$d/tmp";
    uwsgi_temp_path "$d/tmp"; scgi_temp_path "$d/tmp";
    server {
        listen 127.0.0.1:$PORT_NGINX;
        location /static/webseed/ {
            alias "$MEDIA/";
            add_header Access-Control-Allow-Origin * always;
            add_header Access-Control-Expose-Headers 'Content-Range, Content-Length, ETag' always;
            if (\$request_method = OPTIONS) {
                add_header Access-Control-Allow-Origin *;
                add_header Access-Control-Allow-Methods 'GET, HEAD, OPTIONS';
                add_header Access-Control-Allow-Headers 'Range, Cache-Control, User-Agent';
                add_header Access-Control-Max-Age 600;
                return 204;
            }
        }
    }
}
EOF
    nginx -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" > "$d/stdout.log" 2>&1 &
    NGINX_PID=$!
    wait_url "http://127.0.0.1:$PORT_NGINX/static/webseed/video.mp4" "$NGINX_PID" "$d/error.log"
}

start_vidseed() { # piece-length server
    local public=()
    [[ $2 == nginx ]] && public=(--public-url "http://127.0.0.1:$PORT_NGINX")
    rm -rf "$TMP/state"
    "$VIDSEED_BIN" serve "$MEDIA" --state "$TMP/state" --piece-length "$1" --min-piece-length 16384 \
        --control-listen "127.0.0.1:$PORT_CONTROL" --data-listen "127.0.0.1:$PORT_DATA" --data-workers 1 \
        "${public[@]}" > "$TMP/vidseed.log" 2>&1 &
    VIDSEED_PID=$!
    local i
    for ((i = 0; i < 600; i++)); do
        grep -q "vidseed ready" "$TMP/vidseed.log" && return 0
        kill -0 "$VIDSEED_PID" 2> /dev/null || { cat "$TMP/vidseed.log" >&2; die "vidseed exited"; }
        sleep 0.1
    done
    die "vidseed was not ready within 60 s"
}

if has_server nginx; then start_nginx; fi
log "watch-page-vs-nginx: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, $(chromium --version 2> /dev/null | head -1), video $SIZE_MIB MiB"
turn=0
for piece in $PIECES; do
    order=($SERVERS)
    if ((turn++ % 2 == 1)) && ((${#order[@]} == 2)); then order=("${order[1]}" "${order[0]}"); fi
    for server in "${order[@]}"; do
        start_vidseed "$piece" "$server"
        watch=$(curl -fsS "http://127.0.0.1:$PORT_CONTROL/api/v1/videos" | node -e \
            'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].watchUrl))')
        log "  piece $piece, $server: $RUNS run(s) of $watch"
        if ! found=$(cd tests/interop && node watch_page.mjs measure "{\"watchUrl\":\"$watch\",\"runs\":$RUNS}"); then
            die "the page failed: $found"
        fi
        printf '{"piece":%s,"server":"%s","found":%s}\n' "$piece" "$server" "$found" >> "$RESULTS"
        stop_pid "$VIDSEED_PID"
        VIDSEED_PID=""
    done
done

node - "$RESULTS" << 'EOF'
const lines = require('fs').readFileSync(process.argv[2], 'utf8').trim().split('\n').map(JSON.parse)
const median = xs => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2 }
const rows = {}
for (const { piece, server, found } of lines) {
  const ttff = median(found.runs.map(r => r.firstFrameMs))
  const rate = median(found.runs.map(r => r.length / ((r.doneMs - r.metadataMs) / 1000) / 1048576))
  ;(rows[piece] ||= {})[server] = { ttff, rate, runs: found.runs.length }
}
const kib = p => (p >= 1048576 ? `${p / 1048576} MiB` : `${p / 1024} KiB`)
console.log('piece      server   runs  first frame (ms)  rate (MiB/s)')
for (const [piece, servers] of Object.entries(rows)) {
  for (const [server, r] of Object.entries(servers)) {
    console.log(`${kib(Number(piece)).padEnd(10)} ${server.padEnd(8)} ${String(r.runs).padStart(4)}  ${r.ttff.toFixed(0).padStart(16)}  ${r.rate.toFixed(1).padStart(12)}`)
  }
  if (servers.vidseed && servers.nginx) {
    console.log(`${''.padEnd(10)} vidseed/nginx: first frame ${(servers.vidseed.ttff / servers.nginx.ttff).toFixed(2)}x (lower is better), rate ${(servers.vidseed.rate / servers.nginx.rate).toFixed(2)}x`)
  }
}
EOF
