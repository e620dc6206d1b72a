#!/usr/bin/env bash
# webseed-vs-nginx.sh: measure vidseed's WebSeed data plane against a tuned nginx, side by side.
#
# Both servers serve the same random test file from the page cache on 127.0.0.1. For every worker
# count and scenario, the load generator (webseed-load) runs against nginx and vidseed in turn
# (the order flips on every repeat), and each server's CPU time during the run is read from
# /proc. The summary gives medians over the repeats and the ratios vidseed/nginx.
#
# Run from anywhere inside the repository (the script changes to the repository root):
#   loadtest/webseed-vs-nginx.sh
#   DURATION=3 REPEATS=1 WORKERS=1 loadtest/webseed-vs-nginx.sh        # quick smoke
#   SERVERS=nginx loadtest/webseed-vs-nginx.sh                          # nginx alone
#
# Settings (environment variables, defaults in brackets):
#   FILE_MB [1024]        size of the test file in MiB
#   WORKERS ["1 2"]       worker counts (nginx worker_processes, vidseed --data-workers)
#   SCENARIOS ["16k 256k 1m cors16k"]   cors16k = OPTIONS preflight before every 16 KiB GET
#   REPEATS [2]           runs per server, scenario and worker count
#   CONNS [32]            connections of the load generator
#   THREADS [1]           threads of the load generator
#   DURATION [10]         seconds per run
#   SERVERS ["nginx vidseed"]           which servers to measure
#   PORT_NGINX [18481], PORT_VIDSEED [18482], PORT_CONTROL [18483]   ports on 127.0.0.1
#   VERIFY [1]            before measuring, a 1 s correctness run that compares bodies with the file
#   BUILD [1]             build webseed-load and vidseed (release) first; 0 uses existing binaries
#   READY_TIMEOUT [120]   seconds to wait for a server to answer (vidseed hashes the file first)
#   PAUSE [1]             seconds of rest between runs
#   OUT []                if set, the raw per-run results (TSV) are copied to this file
#   KEEP_TMP [0]          1 keeps the temporary directory (logs, configs) instead of removing it
#   NGINX []              nginx binary (default: the one on PATH; installed with apt-get if missing)
#   VIDSEED_ARGS []       extra arguments for `vidseed serve` (e.g. "--io uring")
#   VIDSEED_HTTP []       extra keys of vidseed's [http] table, `\n` between them (e.g.
#                         "sendfile_min = 0")
#   NGINX_CONNECTIONS [max(4096, 2 x CONNS)]   nginx's worker_connections; above 512 connections
#                         vidseed gets a configuration without its per-address cap, as nginx has none
#
# Each run also samples the server's resident anonymous memory (heap and stacks of all its
# processes; not the page cache a mapping shows) halfway through.
#
# Exit status: 0 if every run finished without errors, 1 otherwise.

set -euo pipefail
# Shared helpers: log, stop_pid, port_busy, CPU accounting from /proc, wait_idle, jnum.
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
export LC_ALL=C
export PATH="$PATH:/usr/sbin:/sbin"

FILE_MB=${FILE_MB:-1024}
WORKERS=${WORKERS:-"1 2"}
SCENARIOS=${SCENARIOS:-"16k 256k 1m cors16k"}
REPEATS=${REPEATS:-2}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}
DURATION=${DURATION:-10}
SERVERS=${SERVERS:-"nginx vidseed"}
PORT_NGINX=${PORT_NGINX:-18481}
PORT_VIDSEED=${PORT_VIDSEED:-18482}
PORT_CONTROL=${PORT_CONTROL:-18483}
VERIFY=${VERIFY:-1}
BUILD=${BUILD:-1}
READY_TIMEOUT=${READY_TIMEOUT:-120}
PAUSE=${PAUSE:-1}
OUT=${OUT:-}
KEEP_TMP=${KEEP_TMP:-0}
VIDSEED_ARGS=${VIDSEED_ARGS:-}
VIDSEED_HTTP=${VIDSEED_HTTP:-}
NGINX_CONNECTIONS=${NGINX_CONNECTIONS:-$((CONNS * 2 > 4096 ? CONNS * 2 : 4096))}

FILE_NAME=big.bin
URL_PATH=/static/webseed/$FILE_NAME

die() { log "webseed-vs-nginx: $*"; exit 1; }

for v in FILE_MB REPEATS CONNS THREADS DURATION PORT_NGINX PORT_VIDSEED PORT_CONTROL READY_TIMEOUT PAUSE; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
(( FILE_MB > 0 && REPEATS > 0 && DURATION > 0 )) || die "FILE_MB, REPEATS and DURATION must be positive"
for w in $WORKERS; do [[ $w =~ ^[1-9][0-9]*$ ]] || die "WORKERS must list positive numbers"; done
for s in $SCENARIOS; do
    case $s in 16k | 256k | 1m | cors16k) ;; *) die "unknown scenario '$s' (16k 256k 1m cors16k)" ;; esac
done
for s in $SERVERS; do
    case $s in nginx | vidseed) ;; *) die "unknown server '$s' (nginx vidseed)" ;; esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -f Cargo.toml && -d loadtest ]] || die "cannot find the repository root"

for tool in curl pgrep awk timeout head; do
    command -v "$tool" > /dev/null || die "'$tool' is required"
done

TARGET_DIR=${CARGO_TARGET_DIR:-target}
LOAD_BIN=$TARGET_DIR/release/webseed-load
VIDSEED_BIN=$TARGET_DIR/release/vidseed
CLK_TCK=$(getconf CLK_TCK)

# ------------------------------------------------------------------------------------------------
# Temporary directory and cleanup

TMP=""
NGINX_PID=""
VIDSEED_PID=""

stop_servers() {
    stop_pid "$NGINX_PID"
    NGINX_PID=""
    stop_pid "$VIDSEED_PID"
    VIDSEED_PID=""
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_servers
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

NGINX=${NGINX:-}
if has_server nginx && [[ -z $NGINX ]]; then
    NGINX=$(find_nginx)
    [[ -n $NGINX ]] || die "nginx is still not available"
fi

if [[ $BUILD == 1 ]]; then
    log "building webseed-load"
    cargo build --release -q -p vidseed-loadtest
    if has_server vidseed; then
        log "building vidseed"
        cargo build --release -q --bin vidseed
    fi
fi
[[ -x $LOAD_BIN ]] || die "$LOAD_BIN is missing (build with: cargo build --release -p vidseed-loadtest)"
if has_server vidseed; then
    [[ -x $VIDSEED_BIN ]] || die "$VIDSEED_BIN is missing"
fi

for p in $PORT_NGINX $PORT_VIDSEED $PORT_CONTROL; do
    port_busy "$p" && die "port $p on 127.0.0.1 is in use (set PORT_NGINX/PORT_VIDSEED/PORT_CONTROL)"
done

TMP=$(mktemp -d -t webseed-vs-nginx.XXXXXX)
MEDIA=$TMP/media
mkdir -p "$MEDIA" "$TMP/state" "$TMP/nginx"
RESULTS=$TMP/results.tsv
: > "$RESULTS"

log "creating a ${FILE_MB} MiB random test file in $MEDIA"
head -c "$((FILE_MB * 1024 * 1024))" /dev/urandom > "$MEDIA/$FILE_NAME"
FILE_SIZE=$(stat -c %s "$MEDIA/$FILE_NAME")
cat "$MEDIA/$FILE_NAME" > /dev/null # into the page cache

# ------------------------------------------------------------------------------------------------
# Servers

wait_ready() { # name url pid logfile
    local name=$1 url=$2 pid=$3 logfile=$4 code deadline=$((SECONDS + READY_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2> /dev/null; then
            log "$name exited during start-up; last lines of its log:"
            tail -n 30 "$logfile" >&2 || true
            return 1
        fi
        code=$(curl --noproxy '*' -s -o /dev/null -I --max-time 2 -w '%{http_code}' "$url" || true)
        if [[ $code == 200 || $code == 206 ]]; then
            return 0
        fi
        sleep 0.25
    done
    log "$name did not answer HEAD $url with 200/206 within ${READY_TIMEOUT} s; last lines of its log:"
    tail -n 30 "$logfile" >&2 || true
    return 1
}

start_nginx() { # workers
    local w=$1 d=$TMP/nginx user_line=""
    [[ $EUID -eq 0 ]] && user_line="user root;"
    mkdir -p "$d/client_body" "$d/proxy" "$d/fastcgi" "$d/uwsgi" "$d/scgi"
    cat > "$d/nginx.conf" << EOF
$user_line
daemon off;
master_process on;
worker_processes $w;
pid "$d/nginx.pid";
error_log "$d/error.log" warn;
events { worker_connections $NGINX_CONNECTIONS; }
http {
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    open_file_cache max=1000 inactive=60s;
    client_body_temp_path "$d/client_body";
    proxy_temp_path "$d/proxy";
    fastcgi_temp_path "$d/fastcgi";
    uwsgi_temp_path "$d/uwsgi";
    scgi_temp_path "$d/scgi";
    server {
        listen 127.0.0.1:$PORT_NGINX;
        server_name localhost;
        location /static/webseed/ {
            alias "$MEDIA/";
            add_header Access-Control-Allow-Origin * always;
            if (\$request_method = OPTIONS) {
                add_header Access-Control-Allow-Origin *;
                add_header Access-Control-Allow-Methods 'GET, HEAD, OPTIONS';
                add_header Access-Control-Allow-Headers 'Range, Cache-Control, User-Agent';
                return 204;
            }
        }
    }
}
EOF
    "$NGINX" -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" > "$d/stdout.log" 2>&1 &
    NGINX_PID=$!
    wait_ready nginx "http://127.0.0.1:$PORT_NGINX$URL_PATH" "$NGINX_PID" "$d/error.log"
}

start_vidseed() { # workers
    local w=$1 config=()
    if ((CONNS > 512)) || [[ -n $VIDSEED_HTTP ]]; then
        {
            echo '[http]'
            # Every connection comes from 127.0.0.1: lift the per-address cap (nginx has none).
            if ((CONNS > 512)); then echo 'max_connections_per_ip = 0'; fi
            if [[ -n $VIDSEED_HTTP ]]; then printf '%b\n' "$VIDSEED_HTTP"; fi
        } > "$TMP/vidseed.toml"
        config=(--config "$TMP/vidseed.toml")
    fi
    # shellcheck disable=SC2086
    "$VIDSEED_BIN" serve "$MEDIA" "${config[@]}" \
        --data-listen "127.0.0.1:$PORT_VIDSEED" \
        --control-listen "127.0.0.1:$PORT_CONTROL" \
        --state "$TMP/state" \
        --data-workers "$w" $VIDSEED_ARGS > "$TMP/vidseed-w$w.log" 2>&1 &
    VIDSEED_PID=$!
    wait_ready vidseed "http://127.0.0.1:$PORT_VIDSEED$URL_PATH" "$VIDSEED_PID" "$TMP/vidseed-w$w.log"
}

server_pid() { if [[ $1 == nginx ]]; then echo "$NGINX_PID"; else echo "$VIDSEED_PID"; fi; }
server_url() {
    if [[ $1 == nginx ]]; then
        echo "http://127.0.0.1:$PORT_NGINX$URL_PATH"
    else
        echo "http://127.0.0.1:$PORT_VIDSEED$URL_PATH"
    fi
}

# ------------------------------------------------------------------------------------------------
# CPU accounting

snap_times() { # file: the `times` builtin, run in this shell (not a subshell) so that it sees the
    # user+sys time of this shell's finished children, i.e. of the load generator
    times > "$1"
}

times_children_s() { # file -> children user+sys seconds
    awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); s += a[1] * 60 + a[2] } printf "%.3f", s }' "$1"
}

# ------------------------------------------------------------------------------------------------
# Runs

scenario_args() {
    case $1 in
        16k) echo "--range-size 16384" ;;
        256k) echo "--range-size 262144" ;;
        1m) echo "--range-size 1048576" ;;
        cors16k) echo "--range-size 16384 --preflight" ;;
    esac
}

ANY_ERRORS=0

rss_tree_kib() { # pid -> resident anonymous KiB (heap, stacks: not the mapped file) of it and its children
    local total=0 p r
    for p in $1 $(pgrep -P "$1"); do
        r=$(awk '/^RssAnon:/ { print $2 }' "/proc/$p/status" 2> /dev/null)
        total=$((total + ${r:-0}))
    done
    echo "$total"
}

run_one() { # server workers scenario repeat
    local server=$1 w=$2 scen=$3 rep=$4 pid url json rc t0 t1 c0 c1 rss
    pid=$(server_pid "$server")
    url=$(server_url "$server")
    t0=$(tree_ticks "$pid")
    snap_times "$TMP/times0"
    echo NA > "$TMP/rss"
    (sleep "$(awk -v d="$DURATION" 'BEGIN { print d / 2 }')" && rss_tree_kib "$pid" > "$TMP/rss") &
    local sampler=$!
    rc=0
    # shellcheck disable=SC2046
    json=$(timeout -k 5 $((DURATION + 60)) "$LOAD_BIN" --url "$url" --file-size "$FILE_SIZE" \
        --connections "$CONNS" --threads "$THREADS" --duration "$DURATION" --seed "$rep" \
        --label "$server/w$w/$scen/$rep" --json $(scenario_args "$scen")) || rc=$?
    snap_times "$TMP/times1"
    t1=$(tree_ticks "$pid")
    wait "$sampler" || true
    rss=$(cat "$TMP/rss")
    c0=$(times_children_s "$TMP/times0")
    c1=$(times_children_s "$TMP/times1")
    if [[ $rc -ne 0 || -z $json ]]; then
        log "  $server w=$w $scen #$rep: load generator failed (exit $rc)"
        printf '%s\t%s\t%s\t%s\tNA\tNA\tNA\tNA\tNA\tNA\tfail\tNA\tNA\tNA\tNA\tNA\n' \
            "$w" "$scen" "$server" "$rep" >> "$RESULTS"
        ANY_ERRORS=1
        return 0
    fi
    local gets get_rps total_rps mbps p50 p99 errors payload first_error
    gets=$(jnum gets "$json")
    get_rps=$(jnum get_rps "$json")
    total_rps=$(jnum total_rps "$json")
    mbps=$(jnum mb_per_s "$json")
    p50=$(jnum lat_p50_ms "$json")
    p99=$(jnum lat_p99_ms "$json")
    errors=$(jnum errors "$json")
    payload=$(jnum payload_bytes "$json")
    ((errors == 0)) || ANY_ERRORS=1
    awk -v w="$w" -v scen="$scen" -v server="$server" -v rep="$rep" -v gets="$gets" \
        -v get_rps="$get_rps" -v total_rps="$total_rps" -v mbps="$mbps" -v p50="$p50" -v p99="$p99" \
        -v errors="$errors" -v payload="$payload" -v dt=$((t1 - t0)) -v tck="$CLK_TCK" \
        -v c0="$c0" -v c1="$c1" -v rss="$rss" -v loadavg="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
            cpu = dt / tck
            per_req = gets > 0 ? sprintf("%.2f", cpu * 1e6 / gets) : "NA"
            per_gb = payload > 0 ? sprintf("%.3f", cpu / (payload / 1e9)) : "NA"
            rss_mib = rss == "NA" ? "NA" : sprintf("%.1f", rss / 1024)
            printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%.2f\t%s\t%s\n",
                w, scen, server, rep, get_rps, total_rps, mbps, p99, per_req, per_gb, errors,
                c1 - c0, gets, cpu, p50, rss_mib
            printf "  %-7s w=%s %-7s #%s  %9.0f GET/s %8.1f MB/s  p99 %7.2f ms  server CPU %6.2f s = %7s us/req %6s s/GB  RSS %s MiB  client CPU %5.2f s  errors %s  (load %s)\n",
                server, w, scen, rep, get_rps, mbps, p99, cpu, per_req, per_gb, rss_mib, c1 - c0, errors, loadavg | "cat 1>&2"
        }' >> "$RESULTS"
    if ((errors > 0)); then
        log "    first error: $(sed -n 's/.*"first_error":\(.*\)}$/\1/p' <<< "$json")"
    fi
}

verify_server() { # server
    local server=$1 out rc=0
    out=$(timeout -k 5 60 "$LOAD_BIN" --url "$(server_url "$server")" --connections 4 --duration 1 \
        --range-size 262144 --preflight --verify-file "$MEDIA/$FILE_NAME" --fail-on-error \
        --label "verify-$server" --seed 99) || rc=$?
    if ((rc != 0)); then
        log "  correctness check of $server FAILED (exit $rc):"
        log "$out"
        ANY_ERRORS=1
    else
        log "  correctness check of $server: ok ($(jnum_gets_human "$out"))"
    fi
}
jnum_gets_human() { awk '/^  GET/ { print $2 " GETs verified byte by byte" }' <<< "$1"; }

# ------------------------------------------------------------------------------------------------
# Main loop

VIDSEED_REV=$(git rev-parse --short HEAD 2> /dev/null || echo unknown)
git diff --quiet HEAD 2> /dev/null || VIDSEED_REV="$VIDSEED_REV+dirty"
{
    echo "webseed-vs-nginx: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -sr), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "  servers: $SERVERS; nginx: $( [[ -n $NGINX ]] && "$NGINX" -v 2>&1 | sed 's/.*: //'); vidseed rev $VIDSEED_REV"
    echo "  file ${FILE_MB} MiB ($FILE_SIZE B); workers: $WORKERS; scenarios: $SCENARIOS; $REPEATS repeat(s) of ${DURATION} s; $CONNS connections x $THREADS thread(s)"
} >&2

for w in $WORKERS; do
    log ""
    log "== workers=$w: starting servers"
    if has_server nginx; then start_nginx "$w" || die "nginx did not start"; fi
    if has_server vidseed; then start_vidseed "$w" || die "vidseed did not start"; fi
    for s in $SERVERS; do wait_idle "$s" "$(server_pid "$s")"; done
    if [[ $VERIFY == 1 ]]; then
        for s in $SERVERS; do verify_server "$s"; done
    fi
    for scen in $SCENARIOS; do
        for ((rep = 1; rep <= REPEATS; rep++)); do
            order=$SERVERS
            if ((rep % 2 == 0)); then # flip the order on every second repeat
                order=$(tr ' ' '\n' <<< "$SERVERS" | tac | tr '\n' ' ')
            fi
            for s in $order; do
                run_one "$s" "$w" "$scen" "$rep"
                sleep "$PAUSE"
            done
        done
    done
    stop_servers
done

# ------------------------------------------------------------------------------------------------
# Summary: medians over repeats, ratios vidseed/nginx

[[ -n $OUT ]] && cp "$RESULTS" "$OUT"

awk -F '\t' -v conns="$CONNS" -v threads="$THREADS" -v dur="$DURATION" -v reps="$REPEATS" '
function median(list,    n, a, i, j, t) {
    n = split(list, a, " ")
    if (n == 0) return "NA"
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function add(key, v) { if (v != "NA" && v != "") vals[key] = vals[key] " " v }
function ratio(a, b) { return (a == "NA" || b == "NA" || b + 0 == 0) ? "NA" : sprintf("%.2f", a / b) }
function fmt(v, f) { return v == "NA" ? "NA" : sprintf(f, v) }
BEGIN {
    desc["16k"] = "16 KiB ranges"; desc["256k"] = "256 KiB ranges"; desc["1m"] = "1 MiB ranges"
    desc["cors16k"] = "OPTIONS preflight + 16 KiB GET (CPU per GET includes the OPTIONS)"
    nm = split("rps mbps p99 cpureq cpugb client total p50 rss", metric, " ")
}
{
    g = $1 SUBSEP $2
    if (!(g in seen)) { seen[g] = 1; order[++ng] = g }
    k = g SUBSEP $3
    if (!(k in hasrun)) { hasrun[k] = 1; srvorder[g] = srvorder[g] " " $3 }
    add(k SUBSEP "rps", $5); add(k SUBSEP "total", $6); add(k SUBSEP "mbps", $7); add(k SUBSEP "p99", $8)
    add(k SUBSEP "cpureq", $9); add(k SUBSEP "cpugb", $10); add(k SUBSEP "client", $12); add(k SUBSEP "p50", $15); add(k SUBSEP "rss", $16)
    if ($11 == "fail") failed[k]++; else err[k] += $11
    runs[k]++
}
END {
    for (i = 1; i <= ng; i++) {
        split(order[i], gs, SUBSEP); w = gs[1]; scen = gs[2]
        printf "\n== workers=%s scenario=%s (%s), %s conns x %s threads, %s s, median of %s ==\n", w, scen, desc[scen], conns, threads, dur, reps
        printf "%-8s %10s %10s %9s %9s %11s %9s %8s %10s %7s\n", "server", "GET/s", "MB/s", "p50 ms", "p99 ms", "CPU us/req", "CPU s/GB", "RSS MiB", "client s", "errors"
        ns = split(srvorder[order[i]], srv, " ")
        for (j = 1; j <= ns; j++) {
            k = order[i] SUBSEP srv[j]
            for (m = 1; m <= nm; m++) med[srv[j], metric[m]] = median(vals[k SUBSEP metric[m]])
            e = err[k] + 0; if (failed[k]) e = e " +" failed[k] " failed"
            printf "%-8s %10s %10s %9s %9s %11s %9s %8s %10s %7s\n", srv[j],
                fmt(med[srv[j], "rps"], "%.0f"), fmt(med[srv[j], "mbps"], "%.1f"), fmt(med[srv[j], "p50"], "%.3f"),
                fmt(med[srv[j], "p99"], "%.3f"), fmt(med[srv[j], "cpureq"], "%.2f"), fmt(med[srv[j], "cpugb"], "%.3f"),
                fmt(med[srv[j], "rss"], "%.1f"), fmt(med[srv[j], "client"], "%.2f"), e
            line = sprintf("RESULT server=%s scenario=%s workers=%s rps=%s total_rps=%s mbps=%s p50_ms=%s p99_ms=%s cpu_us_per_req=%s cpu_s_per_gb=%s rss_mib=%s errors=%s",
                srv[j], scen, w, med[srv[j], "rps"], med[srv[j], "total"], med[srv[j], "mbps"], med[srv[j], "p50"],
                med[srv[j], "p99"], med[srv[j], "cpureq"], med[srv[j], "cpugb"], med[srv[j], "rss"], err[k] + 0 + failed[k])
            machine[++nl] = line
        }
        if ((order[i] SUBSEP "nginx") in hasrun && (order[i] SUBSEP "vidseed") in hasrun) {
            r_rps = ratio(med["vidseed", "rps"], med["nginx", "rps"]); r_mb = ratio(med["vidseed", "mbps"], med["nginx", "mbps"])
            r_p99 = ratio(med["vidseed", "p99"], med["nginx", "p99"]); r_req = ratio(med["vidseed", "cpureq"], med["nginx", "cpureq"])
            r_gb = ratio(med["vidseed", "cpugb"], med["nginx", "cpugb"])
            printf "vidseed/nginx: req/s %s, MB/s %s, p99 %s, CPU/req %s, CPU/GB %s  (>1 is better for req/s and MB/s, worse for the rest)\n", r_rps, r_mb, r_p99, r_req, r_gb
            machine[++nl] = sprintf("RATIO scenario=%s workers=%s rps=%s mbps=%s p99=%s cpu_per_req=%s cpu_per_gb=%s", scen, w, r_rps, r_mb, r_p99, r_req, r_gb)
        }
    }
    print ""
    for (i = 1; i <= nl; i++) print machine[i]
}' "$RESULTS"

exit "$ANY_ERRORS"
