# Shared shell helpers for perf/*.sh (sourced, not executed).
# Every process started through start_bg is remembered and killed by cleanup_started.

QP_STARTED_PIDS=()

log() { printf '%s %s\n' "[$(date +%H:%M:%S)]" "$*" >&2; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }
# Option parsing: `--opt) need "$@"; var="$2"; shift 2 ;;` fails clearly when the value is missing.
need() { [[ $# -ge 2 && -n "$2" ]] || fail "option $1 needs a value (try --help)"; }

# start_bg OUTFILE ERRFILE CMD...  -> sets QP_LAST_PID
start_bg() {
    local out="$1" err="$2"
    shift 2
    "$@" >"$out" 2>"$err" &
    QP_LAST_PID=$!
    QP_STARTED_PIDS+=("$QP_LAST_PID")
}

is_alive() { kill -0 "$1" 2>/dev/null; }

# stop_pid PID [TIMEOUT_S]: SIGINT, then SIGTERM, then SIGKILL; reaps it; returns its exit code.
stop_pid() {
    local pid="$1" timeout="${2:-5}" i rc=0
    if is_alive "$pid"; then
        kill -INT "$pid" 2>/dev/null || true
        for ((i = 0; i < timeout * 10; i++)); do is_alive "$pid" || break; sleep 0.1; done
        if is_alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; sleep 0.5; fi
        if is_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    wait "$pid" 2>/dev/null || rc=$?
    return "$rc"
}

# wait_pid_timeout PID TIMEOUT_S: wait for a process that ends by itself; kill it if it overruns.
wait_pid_timeout() {
    local pid="$1" timeout="$2" i rc=0
    for ((i = 0; i < timeout * 10; i++)); do is_alive "$pid" || break; sleep 0.1; done
    if is_alive "$pid"; then
        log "process $pid overran its ${timeout}s bound; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    return "$rc"
}

cleanup_started() {
    local pid
    for pid in "${QP_STARTED_PIDS[@]}"; do
        if is_alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    sleep 0.2
    for pid in "${QP_STARTED_PIDS[@]}"; do
        if is_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        wait "$pid" 2>/dev/null || true
    done
    QP_STARTED_PIDS=()
}

# port_in_use PORT: true if a UDP socket is bound to PORT.
port_in_use() { [[ -n "$(ss -Huln "sport = :$1" 2>/dev/null)" ]]; }

# wait_udp_listening PORT PID TIMEOUT_S: until something binds PORT; fails if PID dies first.
wait_udp_listening() {
    local port="$1" pid="$2" timeout="$3" i
    for ((i = 0; i < timeout * 10; i++)); do
        is_alive "$pid" || return 2
        port_in_use "$port" && return 0
        sleep 0.1
    done
    return 1
}

# cpu_ticks PID: utime+stime of the whole process in clock ticks.
cpu_ticks() {
    local line rest
    read -r line <"/proc/$1/stat" || return 1
    rest="${line##*) }"
    local -a f
    read -r -a f <<<"$rest"
    echo $((f[11] + f[12]))
}

# check_positive_int NAME VALUE
check_int() {
    [[ "$2" =~ ^[0-9]+$ ]] || fail "$1 must be a non-negative integer, got '$2'"
}

# nap SECONDS: sleep in the background and wait for it, so INT/TERM traps run at once.
nap() {
    sleep "$1" &
    wait $! || true
}
