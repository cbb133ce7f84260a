#!/usr/bin/env bash
# The benchmark kit: ngx_http_tfa_resend_module against plain nginx (the
# floor), the same job in Lua and the same job in njs, all on loopback.
#
#   bench/run.sh            full run, about 10 minutes (make bench); writes
#                           bench/results/<date>.md (<date>-2.md and so on
#                           when that exists) and prints it
#   bench/run.sh smoke      about a second per gateway (make bench-smoke):
#                           checks that the kit works and prints the table;
#                           writes build/bench/smoke.md, asserts no target
#
# Parts (both modes run all of them, in this order):
#   check      one resend and three more for the same pinId to every
#              gateway: the same canonical body from the module, Lua and
#              njs (the floor returns the upstream's raw body), and the 4th
#              refused with 429 by all but the floor; for cluster, also
#              the pinId's 3 admissions in the cluster and the keys of 30
#              more pinIds spread over more than one of its masters
#   gateways   wrk runs interleaved (floor module metrics redis rediss
#              sentinel cluster lua njs, ROUNDS times; metrics is the
#              module with a
#              tfa_resend_metrics page, scraped once a second during its
#              runs (the scrapes' CPU counts); redis is the module with the
#              Redis store, rediss the same over TLS, sentinel the same
#              behind one Sentinel, against a redis-server (and a Sentinel)
#              the script starts; cluster is the same on a Redis Cluster of
#              three masters, no replicas, that the script starts and
#              joins with redis-cli --cluster create; the redis-servers are
#              not pinned: they share the two cores with everything else
#              and are part of what is measured):
#              median requests/s, p50/p99 latency and the gateway worker's
#              CPU time per request (utime+stime from /proc/PID/stat); for
#              the Redis gateways, the redis-servers' CPU time (all three
#              masters' for cluster) per admission
#   zone       bytes of limiter zone per tracked pinId (a small zone filled
#              until it refuses), then requests/s with FILL tracked pinIds
#              against a fresh zone, interleaved
#   callgrind  instructions per request of the gateway (floor, module, metrics and
#              the module with normalization off), a fixed number of
#              requests under valgrind --tool=callgrind
#
# Knobs (environment): BENCH_DURATION (s per run), BENCH_ROUNDS,
# BENCH_WARMUP (s), BENCH_CONNECTIONS, BENCH_THREADS, BENCH_FILL (pinIds),
# BENCH_ZONE_DURATION (s), BENCH_MAX_STEAL (%, 3: a run the hypervisor
# stole more of is made again), BENCH_STEAL_RETRIES (2), BENCH_CG_REQUESTS,
# BENCH_CG_GATEWAYS ("floor module
# metrics module-raw", module-raw being the module with normalization off;
# add lua njs for those), BENCH_PIN (1: the gateway on
# core BENCH_GW_CPU, wrk and the mock on BENCH_LOAD_CPU; 0: no pinning),
# BENCH_PARTS ("check gateways zone callgrind"), BENCH_GATEWAYS ("floor
# module metrics redis rediss sentinel cluster lua njs"), BENCH_REDIS_CPU
# (any: the redis-servers not pinned, the default; gw: on the gateway's
# core; load: on wrk's), BENCH_OUT (results file).
#
# Ports 18080-18099 on 127.0.0.1 (BENCH_PORT_BASE moves them): 18080 the
# mock, 18081-18084 the four gateways, 18085-18087 the zone runs, 18088
# callgrind, 18089 the redis gateway, 18090 its redis-server, 18091 the
# rediss gateway, 18092 the redis-server's TLS port, 18093 the sentinel
# gateway, 18094 its Sentinel, 18095 the metrics gateway, 18096 the
# cluster gateway, 18097-18099 the cluster's three masters, and their
# cluster bus ports 10000 above them, 28097-28099; the script stops at
# once if one of them is taken.  Every process the script starts is
# stopped when it ends, however it ends.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/bench
BUILD=${BUILD:-$root/build}
case $BUILD in /*) ;; *) BUILD=$root/$BUILD ;; esac
work=$BUILD/bench
nginx=${BENCH_NGINX:-/usr/sbin/nginx}
built_so=$BUILD/ngx_http_tfa_resend_module.so
# the gateways load a copy of their own: a build that rewrites the .so in
# place under a running nginx (another session's util/build.sh) would
# crash its workers
module_so=$work/ngx_http_tfa_resend_module.so

mode=${1:-full}
case $mode in
    full)
        DURATION=${BENCH_DURATION:-10}
        ROUNDS=${BENCH_ROUNDS:-5}
        WARMUP=${BENCH_WARMUP:-2}
        FILL=${BENCH_FILL:-1000000}
        ZONE_DURATION=${BENCH_ZONE_DURATION:-8}
        CAPACITY_ZONE=${BENCH_CAPACITY_ZONE:-8m}
        CG_REQUESTS=${BENCH_CG_REQUESTS:-2000}
        # a committed results file of the same day is not overwritten
        OUT=${BENCH_OUT:-}
        if [ -z "$OUT" ]; then
            OUT=$bench/results/$(date -u +%F).md
            n=2
            while [ -e "$OUT" ]; do
                OUT=$bench/results/$(date -u +%F)-$n.md
                n=$((n + 1))
            done
        fi
        ;;
    smoke)
        DURATION=${BENCH_DURATION:-1}
        ROUNDS=${BENCH_ROUNDS:-1}
        WARMUP=${BENCH_WARMUP:-0}
        FILL=${BENCH_FILL:-20000}
        ZONE_DURATION=${BENCH_ZONE_DURATION:-1}
        CAPACITY_ZONE=${BENCH_CAPACITY_ZONE:-1m}
        CG_REQUESTS=${BENCH_CG_REQUESTS:-100}
        OUT=${BENCH_OUT:-$work/smoke.md}
        ;;
    *)
        echo "usage: $0 [full|smoke]" >&2
        exit 2
        ;;
esac

CONNECTIONS=${BENCH_CONNECTIONS:-32}
# a run during which the hypervisor gave more than MAX_STEAL % of the
# machine to other guests is made again, up to STEAL_RETRIES times: steal
# slows one run of a round and not the others
MAX_STEAL=${BENCH_MAX_STEAL:-3}
STEAL_RETRIES=${BENCH_STEAL_RETRIES:-2}
THREADS=${BENCH_THREADS:-1}
PARTS=${BENCH_PARTS:-check gateways zone callgrind}
CG_GATEWAYS=${BENCH_CG_GATEWAYS:-floor module metrics module-raw}
PIN=${BENCH_PIN:-1}
GW_CPU=${BENCH_GW_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
MAIN_ZONE=${BENCH_MAIN_ZONE:-512m}

GATEWAYS=${BENCH_GATEWAYS:-floor module metrics redis rediss sentinel cluster
                          lua njs}
BASE=${BENCH_PORT_BASE:-18080}
MOCK_PORT=$BASE
declare -A PORT=([floor]=$((BASE + 1)) [module]=$((BASE + 2))
                 [lua]=$((BASE + 3)) [njs]=$((BASE + 4))
                 [zone-empty]=$((BASE + 5)) [zone-full]=$((BASE + 6))
                 [zone-capacity]=$((BASE + 7)) [cg]=$((BASE + 8))
                 [redis]=$((BASE + 9)) [rediss]=$((BASE + 11))
                 [sentinel]=$((BASE + 13)) [metrics]=$((BASE + 15))
                 [cluster]=$((BASE + 16)))
REDIS_PORT=$((BASE + 10))
REDIS_TLS_PORT=$((BASE + 12))
SENTINEL_PORT=$((BASE + 14))
# the cluster's masters; each also listens on its port + 10000 (the bus)
CLUSTER_PORTS=($((BASE + 17)) $((BASE + 18)) $((BASE + 19)))
CLUSTER_NODES=$(printf '127.0.0.1:%s,' "${CLUSTER_PORTS[@]}")
CLUSTER_NODES=${CLUSTER_NODES%,}
PIN_ID=9C817C6F8AF3D48F9FE553282AFA2B67

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

has_part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

# command prefixes: "${on_gw[@]}" CMD runs CMD on the gateway's core
if [ "$PIN" = 1 ] && [ "$(nproc)" -gt 1 ]; then
    on_gw=(taskset -c "$GW_CPU")
    on_load=(taskset -c "$LOAD_CPU")
    pinning="gateway on core $GW_CPU; wrk and the mock upstream on core $LOAD_CPU (taskset)"
else
    on_gw=(env)
    on_load=(env)
    pinning="none (BENCH_PIN=0 or one core)"
fi


# ---------------------------------------------------------------- processes

masters=()          # nginx masters started here, stopped by cleanup
valgrind_pid=
redis_pid=          # the redis gateways' redis-server
cluster_pids=()     # the cluster gateway's three masters
sentinel_pid=       # the sentinel gateway's Sentinel
scraper_pid=        # scrapes the metrics gateway's page during its runs

stop_pid() {
    local pid=$1 sig=${2:-QUIT} i
    kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local pid
    if [ -n "$valgrind_pid" ]; then
        stop_pid "$valgrind_pid" TERM
    fi
    if [ -n "$scraper_pid" ]; then
        stop_pid "$scraper_pid" TERM
    fi
    for pid in "${masters[@]}"; do
        stop_pid "$pid" QUIT
    done
    if [ -n "$sentinel_pid" ]; then
        stop_pid "$sentinel_pid" TERM
    fi
    if [ -n "$redis_pid" ]; then
        stop_pid "$redis_pid" TERM
    fi
    for pid in "${cluster_pids[@]}"; do
        stop_pid "$pid" TERM
    done
}

trap cleanup EXIT
trap 'say "failed at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM


# render NAME TEMPLATE PORT ZONE_SIZE [SERVER_EXTRA]: a server root under
# $work/NAME with the template as nginx.conf
render() {
    local name=$1 template=$2 port=$3 zone=$4 extra=${5:-} dir f
    dir=$work/$name
    rm -rf "$dir"
    mkdir -p "$dir/logs" "$dir/tmp"
    for f in main common; do
        sed -e "s|@PREFIX@|$dir|g" -e "s|@MOCK_PORT@|$MOCK_PORT|g" \
            "$bench/conf/$f.conf" > "$dir/$f.conf"
    done
    sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$port|g" \
        -e "s|@MODULE@|$module_so|g" -e "s|@BENCH@|$bench|g" \
        -e "s|@ZONE_SIZE@|$zone|g" -e "s|@SERVER_EXTRA@|$extra|g" \
        -e "s|@REDIS_PORT@|$REDIS_PORT|g" \
        -e "s|@REDIS_TLS_PORT@|$REDIS_TLS_PORT|g" \
        -e "s|@SENTINEL_PORT@|$SENTINEL_PORT|g" -e "s|@TLS_DIR@|$work/tls|g" \
        -e "s|@CLUSTER_NODES@|$CLUSTER_NODES|g" \
        "$bench/conf/$template.conf" > "$dir/nginx.conf"
}

# start NAME on_gw|on_load: test the config, start nginx, wait for its
# worker; sets master_pid
start() {
    local name=$1 dir=$work/$1 i
    local -n on=$2
    if ! "$nginx" -p "$dir" -c "$dir/nginx.conf" -t -q \
         > "$dir/logs/t.log" 2>&1
    then
        cat "$dir/logs/t.log" >&2
        die "the $name config ($dir/nginx.conf) fails nginx -t"
    fi
    "${on[@]}" "$nginx" -p "$dir" -c "$dir/nginx.conf"
    for i in $(seq 1 100); do
        [ -s "$dir/logs/nginx.pid" ] && break
        sleep 0.05
    done
    [ -s "$dir/logs/nginx.pid" ] || die "$name did not start"
    master_pid=$(cat "$dir/logs/nginx.pid")
    masters+=("$master_pid")
    worker_of "$name" > /dev/null
}

# worker_of NAME: the pid of NAME's only worker
worker_of() {
    local master i w
    master=$(cat "$work/$1/logs/nginx.pid")
    for i in $(seq 1 100); do
        w=$(pgrep -P "$master" | head -n 1 || true)
        if [ -n "$w" ]; then
            echo "$w"
            return 0
        fi
        sleep 0.05
    done
    die "$1: no worker process"
}

stop() {
    local pid
    pid=$(cat "$work/$1/logs/nginx.pid" 2>/dev/null || true)
    [ -n "$pid" ] && stop_pid "$pid" QUIT
    return 0
}

# cpu_ticks PID: utime + stime of PID, in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the parenthesised command name)
cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

CLK_TCK=$(getconf CLK_TCK)

# wrk_run PORT SECONDS [QUOTA]: prints wrk's machine-readable line
wrk_run() {
    local port=$1 secs=$2 quota=${3:-} out nonce
    # called in $( ): a counter would not survive, the clock does (runs are
    # a second apart at least); wrk adds the thread number
    nonce=$(( $(date +%s%N) / 1000 % 1000000000 ))
    out=$("${on_load[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" \
          --timeout 10s --latency -s "$bench/wrk/resend.lua" \
          "http://127.0.0.1:$port/" -- "$nonce" $quota) \
        || die "wrk failed against port $port"
    printf '%s\n' "$out" >> "$work/wrk.log"
    printf '%s\n' "$out" | grep '^WRK ' \
        || die "wrk printed no summary against port $port"
}

# field LINE KEY: the value of KEY=... in a WRK line
field() {
    printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# busy_ticks: clock ticks the whole machine spent busy (/proc/stat)
busy_ticks() {
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# steal_ticks: clock ticks the hypervisor gave the machine's cores to others
steal_ticks() {
    awk '/^cpu / { print $9; exit }' /proc/stat
}

# until the redis-server on port $1 answers PING (5 s at most); $2 its log
wait_redis() {
    local i
    for i in $(seq 1 100); do
        redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.05
    done
    die "the redis-server on $1 did not start; see $2"
}

# whether the gateway NAME keeps its counts in the redis-server (is_redis)
# or in the cluster's masters (is_redis cluster too)
is_redis() {
    case $1 in redis|rediss|sentinel|cluster) return 0 ;; esac
    return 1
}

# redis_ticks NAME: utime + stime of the redis-servers NAME keeps its
# counts in, summed (the three masters for cluster)
redis_ticks() {
    local pid sum=0
    if [ "$1" = cluster ]; then
        for pid in "${cluster_pids[@]}"; do
            sum=$((sum + $(cpu_ticks "$pid")))
        done
    else
        sum=$(cpu_ticks "$redis_pid")
    fi
    echo "$sum"
}

# script_stats NAME: the script calls (EVALSHA and EVAL) the redis-servers
# NAME keeps its counts in have run, and the microseconds they spent in
# them, summed (INFO commandstats): "CALLS USEC"
script_stats() {
    local p ports=("$REDIS_PORT")
    [ "$1" = cluster ] && ports=("${CLUSTER_PORTS[@]}")
    for p in "${ports[@]}"; do
        redis-cli -p "$p" info commandstats 2>/dev/null
    done | awk -F'[:=,]' '/^cmdstat_eval(sha)?:/ { c += $3; u += $5 }
                          END { print c + 0, u + 0 }'
}

# measure NAME LABEL SECONDS: one wrk run against NAME; appends a row to
# $work/runs.tsv: label requests seconds rps p50_us p99_us cpu_ticks errors
# mock_ticks machine_busy_ticks steal_ticks redis_ticks (the redis-server's,
# for the redis gateways, the three masters' for cluster; empty for the
# others) non_2xx (answers of status 400 and over, of those counted in
# requests) script_calls script_usec (the redis-servers' EVALSHA/EVAL calls
# and the microseconds spent in them; empty but for the Redis gateways)
measure() {
    local name=$1 label=$2 secs=$3 w m c0 c1 m0 m1 b0 b1 s0 s1 line req dur
    local errs rps r0='' r1='' k0='' k1='' calls='' usec=''
    w=$(worker_of "$name")
    m=$(worker_of mock)
    s0=$(steal_ticks)
    b0=$(busy_ticks)
    m0=$(cpu_ticks "$m")
    is_redis "$name" && k0=$(script_stats "$name")
    is_redis "$name" && r0=$(redis_ticks "$name")
    # a Prometheus server's scrape, once a second: its CPU is the gateway's
    if [ "$name" = metrics ]; then
        "${on_load[@]}" bash -c 'while :; do
            curl -s -o /dev/null -w "%{http_code}\n" "$1" >> "$2"
            sleep 1
        done' scraper "http://127.0.0.1:${PORT[metrics]}/metrics" \
            "$work/scrapes.log" &
        scraper_pid=$!
    fi
    c0=$(cpu_ticks "$w")
    line=$(wrk_run "${PORT[$name]}" "$secs")
    if [ -n "$scraper_pid" ]; then
        stop_pid "$scraper_pid" TERM
        wait "$scraper_pid" 2>/dev/null || true
        scraper_pid=
    fi
    if [ ! -r "/proc/$w/stat" ] \
       || grep -q 'exited on signal' "$work/$name/logs/error.log"
    then
        grep -m 3 'exited on signal' "$work/$name/logs/error.log" >&2 || true
        die "$label: the gateway's worker died during the run; see $work/$name/logs/error.log"
    fi
    c1=$(cpu_ticks "$w")
    is_redis "$name" && r1=$(redis_ticks "$name")
    is_redis "$name" && k1=$(script_stats "$name")
    m1=$(cpu_ticks "$m")
    b1=$(busy_ticks)
    s1=$(steal_ticks)
    if [ "$((s1 - s0))" -gt "$(( secs * CLK_TCK * $(nproc) * MAX_STEAL / 100 ))" ] \
       && [ "${steal_retry:-0}" -lt "$STEAL_RETRIES" ]
    then
        say "$label: the hypervisor took $((s1 - s0)) ticks of the machine" \
            "(over $MAX_STEAL %); again"
        echo "$label" >> "$work/repeated"
        steal_retry=$(( ${steal_retry:-0} + 1 )) measure "$@"
        return
    fi
    req=$(field "$line" requests)
    dur=$(field "$line" duration_us)
    errs=$(( $(field "$line" connect) + $(field "$line" read)
             + $(field "$line" write) + $(field "$line" status)
             + $(field "$line" timeout) ))
    rps=$(awk -v r="$req" -v d="$dur" 'BEGIN { printf "%.1f", r / d * 1e6 }')
    if [ -n "$k0" ]; then
        calls=$(( ${k1% *} - ${k0% *} ))
        usec=$(( ${k1#* } - ${k0#* } ))
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" \
        "$req" "$(awk -v d="$dur" 'BEGIN { printf "%.3f", d / 1e6 }')" \
        "$rps" "$(field "$line" p50_us)" "$(field "$line" p99_us)" \
        "$((c1 - c0))" "$errs" "$((m1 - m0))" "$((b1 - b0))" "$((s1 - s0))" \
        "${r0:+$((r1 - r0))}" "$(field "$line" status)" "$calls" "$usec" \
        >> "$work/runs.tsv"
    say "$(printf '%-14s %9s req/s  p50 %6s us  p99 %6s us  cpu %5s ticks  errors %s' \
          "$label" "$rps" "$(field "$line" p50_us)" "$(field "$line" p99_us)" \
          "$((c1 - c0))" "$errs")"
    if [ "$errs" != 0 ]; then
        say "$label: $errs errors or non-2xx answers; see $work/$name/logs/error.log"
    fi
}


# ---------------------------------------------------------------- set-up

"$root/util/deps.sh" bench >&2
"$root/util/build.sh" >&2
[ -f "$built_so" ] || die "no $built_so"

for tool in wrk taskset curl perl valgrind callgrind_annotate; do
    command -v "$tool" > /dev/null || die "$tool not found"
done

# every port of the kit must be free: another nginx on one of them would be
# measured instead of ours
busy=
for p in $(seq "$BASE" $((BASE + 19))) \
         $((CLUSTER_PORTS[0] + 10000)) $((CLUSTER_PORTS[1] + 10000)) \
         $((CLUSTER_PORTS[2] + 10000))
do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        busy="$busy $p"
    fi
done
[ -z "$busy" ] || die "ports in use on 127.0.0.1:$busy; free them or set BENCH_PORT_BASE"

mkdir -p "$work"
cp "$built_so" "$module_so.tmp"
mv -f "$module_so.tmp" "$module_so"
rm -rf "$work/runs.tsv" "$work/wrk.log" "$work"/check.* "$work"/cg-* \
    "$work/repeated" "$work/scrapes.log"
: > "$work/runs.tsv"
: > "$work/facts"

fact() { printf '%s\t%s\n' "$1" "$2" >> "$work/facts"; }

fact mode "$mode"
fact date "$(date -u '+%Y-%m-%d %H:%M UTC')"
fact cores "$(nproc)"
fact cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
fact kernel "$(uname -r)"
fact nginx "$("$nginx" -v 2>&1 | sed 's/^nginx version: //')"
fact lua "$(dpkg-query -W -f '${Version}' libnginx-mod-http-lua 2>/dev/null || echo '?')"
fact njs "$(dpkg-query -W -f '${Version}' libnginx-mod-http-js 2>/dev/null || echo '?')"
fact wrk "$(dpkg-query -W -f '${Version}' wrk 2>/dev/null || echo '?')"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git -C "$root" diff --quiet HEAD -- config ngx_http_tfa_resend_module.c src \
     2>/dev/null
then
    commit="$commit (with uncommitted changes to the module)"
fi
fact commit "$commit"
fact pinning "$pinning"
fact clk_tck "$CLK_TCK"
fact load "wrk $THREADS thread(s), $CONNECTIONS connections, a fresh random pinId per request"
fact rounds "$ROUNDS"
fact duration "$DURATION"
fact warmup "$WARMUP"

render mock mock "$MOCK_PORT" 1m
start mock on_load

# the Redis store's server, without persistence, where the kernel puts it
# (BENCH_REDIS_CPU=gw: on the gateway's core; load: on wrk's and the
# mock's): a fleet's Redis has cores of its own, which two cores cannot
# give it, and neither pinning is more like that than the other; the
# cluster's three masters the same way
redis_gws=
for g in $GATEWAYS; do
    is_redis "$g" && redis_gws="$redis_gws $g"
done

if [ -n "$redis_gws" ]; then
    command -v redis-server > /dev/null || die "redis-server not found"
    command -v redis-cli > /dev/null || die "redis-cli not found"

    on_any=(env)
    case ${BENCH_REDIS_CPU:-any} in
        gw)   on_redis=on_gw;   redis_where="on the gateway's core" ;;
        load) on_redis=on_load; redis_where="on the load core" ;;
        any)  on_redis=on_any;  redis_where="not pinned" ;;
        *)    die "BENCH_REDIS_CPU is gw, load or any" ;;
    esac
    declare -n on_redis_cmd=$on_redis
    fact redis "$(redis-server --version | sed 's/^Redis server v=\([^ ]*\).*/\1/') (Debian), $redis_where"
fi

if [[ " $redis_gws " == *" redis "* || " $redis_gws " == *" rediss "* \
      || " $redis_gws " == *" sentinel "* ]]
then
    mkdir -p "$work/redis-server"

    # rediss: a CA and a certificate for localhost, a TLS port beside the
    # plain one
    tls_opts=()
    if [[ " $redis_gws " == *" rediss "* ]]; then
        rm -rf "$work/tls"
        mkdir -p "$work/tls"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
            -subj /CN=tfa-bench-ca -keyout "$work/tls/ca.key" \
            -out "$work/tls/ca.crt" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
            -keyout "$work/tls/server.key" -out "$work/tls/server.csr" \
            2>/dev/null
        printf 'subjectAltName=DNS:localhost\n' > "$work/tls/server.ext"
        openssl x509 -req -in "$work/tls/server.csr" -CA "$work/tls/ca.crt" \
            -CAkey "$work/tls/ca.key" -CAcreateserial -days 2 \
            -extfile "$work/tls/server.ext" -out "$work/tls/server.crt" \
            2>/dev/null
        tls_opts=(--tls-port "$REDIS_TLS_PORT"
                  --tls-cert-file "$work/tls/server.crt"
                  --tls-key-file "$work/tls/server.key"
                  --tls-ca-cert-file "$work/tls/ca.crt"
                  --tls-auth-clients no)
    fi

    "${on_redis_cmd[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
        --save '' --appendonly no --daemonize no --dir "$work/redis-server" \
        "${tls_opts[@]}" > "$work/redis-server/log" 2>&1 &
    redis_pid=$!
    wait_redis "$REDIS_PORT" "$work/redis-server/log"

    # sentinel: one Sentinel, quorum 1, naming the redis-server "bench"
    if [[ " $redis_gws " == *" sentinel "* ]]; then
        command -v redis-sentinel > /dev/null || die "redis-sentinel not found"
        printf '%s\n' "port $SENTINEL_PORT" "bind 127.0.0.1" \
            "daemonize no" "dir $work/redis-server" \
            "sentinel monitor bench 127.0.0.1 $REDIS_PORT 1" \
            > "$work/redis-server/sentinel.conf"
        "${on_redis_cmd[@]}" redis-sentinel "$work/redis-server/sentinel.conf" \
            > "$work/redis-server/sentinel.log" 2>&1 &
        sentinel_pid=$!
        for i in $(seq 1 100); do
            redis-cli -p "$SENTINEL_PORT" sentinel get-master-addr-by-name \
                bench 2>/dev/null | grep -q "$REDIS_PORT" && break
            sleep 0.05
        done
        redis-cli -p "$SENTINEL_PORT" sentinel get-master-addr-by-name bench \
            2>/dev/null | grep -q "$REDIS_PORT" \
            || die "redis-sentinel did not start; see $work/redis-server/sentinel.log"
    fi
fi

# cluster: three masters in cluster mode, without persistence or replicas,
# joined by redis-cli --cluster create (slots 0-5460, 5461-10922 and
# 10923-16383, in the order of CLUSTER_PORTS); the default node timeout
# (15 s), so that a master slowed down by the load is not voted out
if [[ " $redis_gws " == *" cluster "* ]]; then
    rm -rf "$work/redis-cluster"
    for p in "${CLUSTER_PORTS[@]}"; do
        mkdir -p "$work/redis-cluster/$p"
        "${on_redis_cmd[@]}" redis-server --port "$p" --bind 127.0.0.1 \
            --save '' --appendonly no --daemonize no \
            --dir "$work/redis-cluster/$p" --cluster-enabled yes \
            --cluster-config-file nodes.conf \
            > "$work/redis-cluster/$p/log" 2>&1 &
        cluster_pids+=($!)
    done
    for p in "${CLUSTER_PORTS[@]}"; do
        wait_redis "$p" "$work/redis-cluster/$p/log"
    done
    # shellcheck disable=SC2046
    timeout 60 redis-cli --cluster create \
        $(printf '127.0.0.1:%s ' "${CLUSTER_PORTS[@]}") --cluster-yes \
        > "$work/redis-cluster/create.log" 2>&1 \
        || die "redis-cli --cluster create failed; see $work/redis-cluster/create.log"
    for i in $(seq 1 300); do
        ok=0
        for p in "${CLUSTER_PORTS[@]}"; do
            redis-cli -p "$p" cluster info 2>/dev/null \
                | grep -q '^cluster_state:ok' && ok=$((ok + 1))
        done
        [ "$ok" = 3 ] && break
        sleep 0.1
    done
    [ "$ok" = 3 ] || die "the cluster did not come up in 30 s; see $work/redis-cluster/*/log"
    fact cluster "3 masters on 127.0.0.1:${CLUSTER_PORTS[0]}-${CLUSTER_PORTS[2]}, no replicas, no persistence"
fi

for g in $GATEWAYS; do
    render "$g" "$g" "${PORT[$g]}" "$MAIN_ZONE"
done
for g in $GATEWAYS; do
    start "$g" on_gw
done
gw_ports=
for g in $GATEWAYS; do
    gw_ports="$gw_ports${gw_ports:+ }:${PORT[$g]}"
done
say "started the mock (:$MOCK_PORT) and the gateways ($gw_ports)"


# ---------------------------------------------------------------- check

if has_part check; then
    raw="{\"pinId\":\"$PIN_ID\",\"to\":\"41793026727\",\"callStatus\":\"PENDING_ACCEPTED\"}"
    canon="{\"pinId\":\"$PIN_ID\",\"to\":\"41793026727\",\"callStatus\":\"PROCESSING\"}"
    bad=
    : > "$work/check.tsv"
    for g in $GATEWAYS; do
        statuses=
        for i in 1 2 3 4; do
            got=$(curl -s -o "$work/check.$g.$i" \
                  -w '%{http_code} %{content_type}' -X POST \
                  "http://127.0.0.1:${PORT[$g]}/2fa/2/pin/$PIN_ID/resend/voice")
            statuses="$statuses${statuses:+ }${got%% *}"
            [ "$i" = 1 ] && ctype=${got#* }
        done
        body=$(cat "$work/check.$g.1")
        want=$canon
        [ "$g" = floor ] && want=$raw
        expect="200 200 200 429"
        [ "$g" = floor ] && expect="200 200 200 200"
        verdict=same
        if [ "$body" != "$want" ]; then
            verdict=DIFFERENT
            bad="$bad $g"
        fi
        if [ "$statuses" != "$expect" ]; then
            verdict="$verdict, statuses differ"
            bad="$bad $g"
        fi
        # the metrics gateway counted what it answered
        if [ "$g" = metrics ]; then
            page=$(curl -s "http://127.0.0.1:${PORT[$g]}/metrics")
            for want in 'outcome="forwarded"} 3' 'outcome="limited"} 1'; do
                if ! grep -qF "tfa_resend_requests_total{$want" <<< "$page"
                then
                    verdict="$verdict, metrics page lacks $want"
                    bad="$bad $g"
                fi
            done
        fi
        # the cluster gateway: the 3 admissions are in the cluster, on the
        # master of the pinId's slot (redis-cli -c follows its MOVED), and
        # 30 more pinIds, one resend each, leave keys on more than one
        # master
        if [ "$g" = cluster ]; then
            key="tfa:bench_cluster:{$PIN_ID}"
            n=$(redis-cli -c -p "${CLUSTER_PORTS[0]}" zcard "$key" 2>&1)
            if [ "$n" != 3 ]; then
                verdict="$verdict, $key holds $n admissions, not 3"
                bad="$bad $g"
            fi
            more=
            for i in $(seq 1 30); do
                pin=$(printf 'C1%030X' "$i")
                more="$more $(curl -s -o /dev/null -w '%{http_code}' \
                    -X POST "http://127.0.0.1:${PORT[$g]}/2fa/2/pin/$pin/resend/voice")"
            done
            if [ "$more" != "$(printf ' 200%.0s' $(seq 1 30))" ]; then
                verdict="$verdict, 30 more pinIds answered$more"
                bad="$bad $g"
            fi
            spread='' used=0
            for p in "${CLUSTER_PORTS[@]}"; do
                k=$(redis-cli -p "$p" dbsize 2>&1)
                spread="$spread${spread:+, }$k"
                [ "$k" -gt 0 ] 2>/dev/null && used=$((used + 1))
            done
            verdict="$verdict; 31 pinIds' keys on $used of 3 masters ($spread)"
            if [ "$used" -lt 2 ]; then
                verdict="$verdict, not spread"
                bad="$bad $g"
            fi
            say "check cluster: $key holds $n admissions; keys per master: $spread"
        fi
        printf '%s\t%s\t%s\t%s\t%s\n' "$g" "$statuses" "$ctype" "$body" \
            "$verdict" >> "$work/check.tsv"
        say "check $g: $statuses, $ctype, $body"
    done
    if [ -n "$bad" ] && [ "${BENCH_IGNORE_CHECK:-0}" != 1 ]; then
        die "gateways do not give the expected answers:$bad (BENCH_IGNORE_CHECK=1 to measure anyway)"
    fi
fi


# ---------------------------------------------------------------- gateways

if has_part gateways; then
    if [ "$WARMUP" != 0 ]; then
        for g in $GATEWAYS; do
            wrk_run "${PORT[$g]}" "$WARMUP" > /dev/null
        done
        say "warmed up each gateway for ${WARMUP}s"
    fi
    for r in $(seq 1 "$ROUNDS"); do
        for g in $GATEWAYS; do
            measure "$g" "$g#$r" "$DURATION"
        done
    done
fi

# the lines the Redis gateways logged when on_store_error decided (the
# store not answering within redis_timeout; once a second at most), and
# where the cluster's keys ended up
for g in $redis_gws; do
    fact "store_errors_$g" "$(grep -c '\[error\].*on_store_error=' "$work/$g/logs/error.log" || true)"
done
if [[ " $redis_gws " == *" cluster "* ]]; then
    fact cluster_keys "$(for p in "${CLUSTER_PORTS[@]}"; do
        redis-cli -p "$p" dbsize 2>&1; done | paste -sd/)"
fi

for g in $GATEWAYS; do
    stop "$g"
done


# ---------------------------------------------------------------- zone

if has_part zone; then
    # 1. bytes per tracked pinId: fill a small zone until it refuses,
    #    counting the admissions in an access log
    render zone-capacity module "${PORT[zone-capacity]}" "$CAPACITY_ZONE" \
        "access_log $work/zone-capacity/logs/access.log;"
    start zone-capacity on_gw
    for i in $(seq 1 30); do
        line=$(wrk_run "${PORT[zone-capacity]}" 1)
        [ "$(field "$line" status)" != 0 ] && break
    done
    [ "$(field "$line" status)" != 0 ] \
        || die "the $CAPACITY_ZONE zone never filled up"
    stop zone-capacity
    admitted=$(awk '$9 == 200' "$work/zone-capacity/logs/access.log" | wc -l)
    refused=$(awk '$9 != 200 { print $9 }' "$work/zone-capacity/logs/access.log" \
              | sort | uniq -c | awk '{ printf "%s%s x %s", (NR > 1 ? ", " : ""), $1, $2 }')
    zone_bytes=$(awk -v s="$CAPACITY_ZONE" 'BEGIN {
        n = s + 0; u = tolower(substr(s, length(s)));
        if (u == "k") n *= 1024; else if (u == "m") n *= 1048576;
        else if (u == "g") n *= 1073741824; print n }')
    fact capacity_zone "$CAPACITY_ZONE"
    fact capacity_bytes "$zone_bytes"
    fact capacity_admitted "$admitted"
    fact capacity_refused "$refused"
    say "zone $CAPACITY_ZONE: $admitted pinIds admitted before it refused ($refused)"

    # 2. a zone holding FILL pinIds against a fresh one: room for the fill
    #    and for every pinId of the measured runs, 1.25 x, at least 256m
    per=$(awk -v z="$zone_bytes" -v a="$admitted" 'BEGIN { print z / a }')
    full_mb=$(awk -v p="$per" -v f="$FILL" 'BEGIN {
        m = p * (f + 1000000) * 1.25 / 1048576; if (m < 256) m = 256;
        printf "%d", m + 1 }')
    for z in zone-empty zone-full; do
        render "$z" module "${PORT[$z]}" "${full_mb}m"
        start "$z" on_gw
    done

    # fill: wrk threads stop after their share of the answers still
    # missing; each wrk run lasts what the previous one's rate suggests
    t0=$(date +%s.%N)
    filled=0
    secs=2
    while [ "$filled" -lt "$FILL" ]; do
        left=$((FILL - filled))
        share=$(( (left + THREADS - 1) / THREADS ))
        line=$(wrk_run "${PORT[zone-full]}" "$secs" "$share")
        [ "$(field "$line" status)" = 0 ] \
            || die "the fill was refused $(field "$line" status) times"
        filled=$((filled + $(field "$line" requests)))
        rate=$(awk -v r="$(field "$line" requests)" \
               -v d="$(field "$line" duration_us)" 'BEGIN { print r / d * 1e6 }')
        secs=$(awk -v l="$((FILL - filled))" -v r="$rate" \
               'BEGIN { printf "%d", l / r * 1.1 + 1 }')
        say "zone-full: $filled pinIds so far, at about ${rate%.*}/s"
    done
    t1=$(date +%s.%N)
    fact fill_entries "$filled"
    fact fill_zone "${full_mb}m"
    fact fill_seconds "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')"
    say "zone-full holds $filled pinIds (zone ${full_mb}m)"

    wrk_run "${PORT[zone-empty]}" 1 > /dev/null
    for r in $(seq 1 "$ROUNDS"); do
        for z in zone-empty zone-full; do
            measure "$z" "$z#$r" "$ZONE_DURATION"
        done
    done
    fact zone_duration "$ZONE_DURATION"
    stop zone-empty
    stop zone-full
fi


# ---------------------------------------------------------------- callgrind

if has_part callgrind; then
    fact cg_requests "$CG_REQUESTS"
    for g in $CG_GATEWAYS; do
        # module-raw: the module with tfa_resend_normalize off, to tell the
        # normalizer's share from the rest of the module's
        if [ "$g" = module-raw ]; then
            render "cg-$g" module "${PORT[cg]}" 64m "tfa_resend_normalize off;"
        else
            render "cg-$g" "$g" "${PORT[cg]}" 64m
        fi
        dir=$work/cg-$g
        "$nginx" -p "$dir" -c "$dir/nginx.conf" -t -q \
            -g 'daemon off; master_process off;' 2>&1 \
            || die "cg-$g: nginx -t failed"
        # collect only inside the event loop: the requests, not start-up
        "${on_gw[@]}" valgrind --tool=callgrind \
            --toggle-collect=ngx_process_events_and_timers \
            --callgrind-out-file="$work/cg-$g.out" \
            "$nginx" -p "$dir" -c "$dir/nginx.conf" \
            -g 'daemon off; master_process off;' \
            > "$work/cg-$g.log" 2>&1 &
        valgrind_pid=$!
        for i in $(seq 1 600); do
            [ -s "$dir/logs/nginx.pid" ] && break
            kill -0 "$valgrind_pid" 2>/dev/null \
                || { cat "$work/cg-$g.log" >&2; die "cg-$g: nginx died"; }
            sleep 0.1
        done
        "${on_load[@]}" perl "$bench/client.pl" "${PORT[cg]}" "$CG_REQUESTS" 42 >&2 \
            || die "cg-$g: the client failed"
        # under valgrind a signal can land between nginx's check of its
        # flags and epoll_wait, and wait there for the next event: repeat
        for i in $(seq 1 40); do
            kill -QUIT "$valgrind_pid" 2>/dev/null || break
            sleep 0.25
        done
        stop_pid "$valgrind_pid" TERM
        wait "$valgrind_pid" 2>/dev/null || true
        valgrind_pid=
        say "callgrind $g: $(grep -m1 -o 'Collected : [0-9]*' "$work/cg-$g.log" || echo '?')"
    done
fi


# ---------------------------------------------------------------- report

mkdir -p "$(dirname "$OUT")"
fact max_steal "$MAX_STEAL"
fact scrapes "$(grep -c '^200$' "$work/scrapes.log" 2>/dev/null || echo 0) of $(wc -l < "$work/scrapes.log" 2>/dev/null || echo 0)"
fact repeated "$(cat "$work/repeated" 2>/dev/null | wc -l)"
perl "$bench/report.pl" "$work" "$module_so" > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
say "results written to $OUT"
