# Helpers shared by the load-test scripts (sourced, not run). They expect SERVERS and CLK_TCK
# to be set by the script before they are called.

log() { printf '%s\n' "$*" >&2; }

has_server() { [[ " $SERVERS " == *" $1 "* ]]; }

stop_pid() { # pid: TERM, wait up to 5 s, then KILL (children too)
    local pid=$1 kids i
    [[ -n $pid ]] && kill -0 "$pid" 2> /dev/null || return 0
    kids=$(pgrep -P "$pid" || true)
    kill -TERM "$pid" 2> /dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2> /dev/null; then
        kill -KILL "$pid" 2> /dev/null || true
    fi
    for k in $kids; do kill -KILL "$k" 2> /dev/null || true; done
    wait "$pid" 2> /dev/null || true
}

port_busy() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

proc_ticks() { # pid -> utime+stime of the process (all its threads), in clock ticks
    local stat
    stat=$(cat "/proc/$1/stat" 2> /dev/null) || { echo 0; return; }
    stat=${stat##*) } # fields from 3 (state) on; comm may contain spaces
    # shellcheck disable=SC2086
    set -- $stat
    echo $((${12} + ${13})) # fields 14 (utime) and 15 (stime)
}

tree_ticks() { # pid -> ticks of the process and its direct children (nginx workers)
    local total c
    total=$(proc_ticks "$1")
    for c in $(pgrep -P "$1" || true); do
        total=$((total + $(proc_ticks "$c")))
    done
    echo "$total"
}

wait_idle() { # name pid: until the server used < 3 % of a CPU over 1 s (start-up work such as
    # hashing must not be charged to the first run), at most 60 s
    local name=$1 pid=$2 a b i
    for ((i = 0; i < 60; i++)); do
        a=$(tree_ticks "$pid")
        sleep 1
        b=$(tree_ticks "$pid")
        if (((b - a) * 100 < 3 * CLK_TCK)); then
            return 0
        fi
    done
    log "  warning: $name still busy after 60 s (measurements will include that work)"
}

jnum() { sed -n 's/.*"'"$1"'":\([-0-9.eE+]*\).*/\1/p' <<< "$2"; }

serve_federating() { # dir [extra vidseed serve args...]: starts `vidseed serve` (release, from
    # TARGET_DIR) on dir/media with its state in dir/state, federating with loopback peers;
    # sets PID and CONTROL (the control plane's URL) or exits with its log
    local dir=$1 i
    shift
    mkdir -p "$dir/media"
    "$TARGET_DIR/release/vidseed" serve "$dir/media" --state "$dir/state" --control-listen 127.0.0.1:0 \
        --data-listen 127.0.0.1:0 --allow-private-federation "$@" > "$dir/out.log" 2> "$dir/err.log" &
    PID=$!
    for ((i = 0; i < 300; i++)); do
        grep -q "vidseed ready" "$dir/out.log" 2> /dev/null && break
        sleep 0.1
    done
    CONTROL=$(sed -n 's/.*control plane on \(http:\/\/[0-9.:]*\).*/\1/p' "$dir/out.log" | head -1)
    [[ -n $CONTROL ]] || { log "vidseed did not start:"; cat "$dir/err.log" >&2; exit 1; }
}

aquatic_config() { # defaults address tls cert key: aquatic_ws's printed defaults (file
    # `defaults`) changed for a measurement — ws:// (or wss:// when tls is 1) at address, one
    # socket and one swarm worker, no access list, no metrics, no privilege dropping
    awk -v addr="$2" -v tls="$3" -v cert="$4" -v key="$5" '
        /^\[/ { section = $0 }
        section == "" && /^socket_workers *=/ { print "socket_workers = 1"; next }
        section == "" && /^swarm_workers *=/ { print "swarm_workers = 1"; next }
        section == "" && /^log_level *=/ { print "log_level = \"warn\""; next }
        section == "[network]" && /^address *=/ { print "address = \"" addr "\""; next }
        section == "[network]" && /^use_ipv4 *=/ { print "use_ipv4 = true"; next }
        section == "[network]" && /^use_ipv6 *=/ { print "use_ipv6 = false"; next }
        section == "[network]" && /^enable_tls *=/ { print "enable_tls = " (tls == 1 ? "true" : "false"); next }
        section == "[network]" && /^tls_certificate_path *=/ && tls == 1 { print "tls_certificate_path = \"" cert "\""; next }
        section == "[network]" && /^tls_private_key_path *=/ && tls == 1 { print "tls_private_key_path = \"" key "\""; next }
        section == "[access_list]" && /^mode *=/ { print "mode = \"off\""; next }
        section == "[metrics]" && /^run_prometheus_endpoint *=/ { print "run_prometheus_endpoint = false"; next }
        section == "[privileges]" && /^drop_privileges *=/ { print "drop_privileges = false"; next }
        { print }
    ' "$1"
}

find_nginx() { # prints the nginx binary, installing Debian's package (root or sudo) if missing
    local n
    n=$(command -v nginx || true)
    if [[ -z $n ]]; then
        log "nginx not found: installing the Debian package"
        local sudo=""
        [[ $EUID -eq 0 ]] || sudo=sudo
        { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; } > /dev/null || true
        n=$(command -v nginx || true)
    fi
    echo "$n"
}

ensure_gnuplot() { # installs Debian's gnuplot-nox if gnuplot is missing; false if still missing
    command -v gnuplot > /dev/null && return 0
    log "gnuplot not found: installing the Debian package gnuplot-nox"
    local sudo=""
    [[ $EUID -eq 0 ]] || sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox > /dev/null || true
    command -v gnuplot > /dev/null || { log "note: no gnuplot: the table only"; return 1; }
}
