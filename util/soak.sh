#!/usr/bin/env bash
# Load and reload: the gateway with 2 workers at saturation on
# loopback while it is reloaded every few seconds; then asserts and prints
#
#   - zero socket errors (connect, read, write, timeout) in both loads;
#   - zero 5xx except those the mock upstream was told to send (pinIds
#     that start with "5" get a 503 from it): no 5xx made by the gateway;
#   - each hammered pinId reached the mock exactly SOAK_LIMIT times (the
#     mock logs every request it gets, counted after the run);
#   - worker and master memory at the end within SOAK_RSS_PCT % of their
#     level after warm-up;
#   - no [alert], [crit], [emerg] or "exited on signal" in the error log.
#
#   util/soak.sh                     60 s (make soak)
#   SOAK_SECONDS=300 util/soak.sh    longer
#
# Two loads run at once, both wrk, both "Connection: close" (see below):
#   random   SOAK_CONNECTIONS connections, a fresh random pinId each
#   hammer   SOAK_HAMMER_CONNECTIONS connections cycling over SOAK_HAMMER
#            fixed pinIds: all but SOAK_LIMIT of each are refused (429)
#
# Why "Connection: close": on a reload, nginx's old workers close their
# idle keep-alive connections at once; a request a client sends on one at
# that moment is lost ("read" error in wrk).  That is nginx's behaviour
# with any module, not this one's; with a connection per request the
# count of socket errors says something about the gateway.
#
# Memory: "RSS" here is VmRSS less RssShmem from /proc/PID/status.  The
# limiter zone is shared memory: the pages of it a process touches count
# in its VmRSS and grow with the pinIds tracked, which is no leak.  VmRSS
# is printed too.  Workers are replaced at each reload, so both samples
# are taken the same time after a reload (SOAK_RELOAD_EVERY - 1 s).
#
# Ports 18090 (the gateway) and 18091 (the mock) on 127.0.0.1; the script
# stops at once if one is taken.  Everything it starts is stopped when it
# ends, however it ends.  Logs and configs: $BUILD/soak/.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$root/build}
case $BUILD in /*) ;; *) BUILD=$root/$BUILD ;; esac

SECONDS_RUN=${SOAK_SECONDS:-60}
RELOAD_EVERY=${SOAK_RELOAD_EVERY:-5}
WARMUP=${SOAK_WARMUP:-10}
CONNECTIONS=${SOAK_CONNECTIONS:-64}
THREADS=${SOAK_THREADS:-2}
HAMMER=${SOAK_HAMMER:-8}
HAMMER_CONNECTIONS=${SOAK_HAMMER_CONNECTIONS:-16}
LIMIT=${SOAK_LIMIT:-3}
RSS_PCT=${SOAK_RSS_PCT:-10}
ZONE=${SOAK_ZONE:-256m}
GW_PORT=${SOAK_PORT:-18090}
MOCK_PORT=$((GW_PORT + 1))
nginx=${SOAK_NGINX:-/usr/sbin/nginx}
module_so=${SOAK_MODULE:-$BUILD/ngx_http_tfa_resend_module.so}

work=$BUILD/soak
gw=$work/gateway
mock=$work/mock

say() { printf 'soak: %s\n' "$*"; }
die() { printf 'soak: %s\n' "$*" >&2; exit 1; }

if [ "$SECONDS_RUN" -lt $((WARMUP + RELOAD_EVERY)) ]; then
    die "SOAK_SECONDS must be at least SOAK_WARMUP + SOAK_RELOAD_EVERY"
fi

command -v wrk > /dev/null || die "wrk is not installed (util/deps.sh bench)"

for port in $GW_PORT $MOCK_PORT; do
    if (exec 3<> /dev/tcp/127.0.0.1/$port) 2> /dev/null; then
        die "127.0.0.1:$port is taken: is another soak running?"
    fi
done

if [ -z "${SOAK_MODULE:-}" ]; then
    BUILD=$BUILD "$root/util/build.sh" > /dev/null
fi

[ -f "$module_so" ] || die "no module at $module_so"

pids=()
started=()

cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2> /dev/null || true
    done
    for p in "${started[@]}"; do
        if [ -f "$p/logs/nginx.pid" ]; then
            "$nginx" -p "$p/" -c conf/nginx.conf -s quit 2> /dev/null || true
        fi
    done
    sleep 1
    for p in "${started[@]}"; do
        if [ -f "$p/logs/nginx.pid" ]; then
            kill -TERM "$(cat "$p/logs/nginx.pid")" 2> /dev/null || true
        fi
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$work"
mkdir -p "$gw/conf" "$gw/logs" "$mock/conf" "$mock/logs"

user=
[ "$(id -u)" = 0 ] && user="user root;"


# ---- the mock upstream ----------------------------------------------

cat > "$mock/conf/nginx.conf" <<END
$user
worker_processes 1;
worker_rlimit_nofile 20000;
error_log logs/error.log notice;
pid logs/nginx.pid;
events { worker_connections 8192; }
http {
    client_body_temp_path $mock/tmp;
    proxy_temp_path $mock/tmp;
    fastcgi_temp_path $mock/tmp;
    uwsgi_temp_path $mock/tmp;
    scgi_temp_path $mock/tmp;
    default_type application/json;
    keepalive_requests 100000;
    log_format soak_mock '\$request_uri \$status';
    access_log logs/access.log soak_mock buffer=256k flush=1s;

    server {
        listen 127.0.0.1:$MOCK_PORT backlog=4096;

        location /2fa/ {
            if (\$http_authorization != "Basic c29hazpzM2NyZXQ=") {
                return 401 '{"requestError":{"serviceException":{"messageId":"UNAUTHORIZED","text":"no credentials"}}}';
            }
            # told to fail: pinIds that start with "5"
            if (\$request_uri ~ ^/2fa/2/pin/5) {
                return 503 '{"requestError":{"serviceException":{"messageId":"GENERAL_ERROR","text":"told to fail"}}}';
            }
            return 200 '{"to":"41793026727","callStatus":"PENDING_ACCEPTED"}';
        }
    }
}
END


# ---- the gateway ----------------------------------------------------

cat > "$gw/conf/nginx.conf" <<END
$user
load_module $module_so;
worker_processes 2;
worker_rlimit_nofile 20000;
error_log logs/error.log notice;
pid logs/nginx.pid;
events { worker_connections 8192; }
http {
    client_body_temp_path $gw/tmp;
    proxy_temp_path $gw/tmp;
    fastcgi_temp_path $gw/tmp;
    uwsgi_temp_path $gw/tmp;
    scgi_temp_path $gw/tmp;
    log_format soak_gw '\$status \$upstream_status \$tfa_resend_pin_id';
    access_log logs/access.log soak_gw buffer=256k flush=1s;

    tfa_resend_limit_zone zone=soak:$ZONE rate=$LIMIT/1h;

    upstream infobip {
        server 127.0.0.1:$MOCK_PORT;
        keepalive 64;
    }

    server {
        listen 127.0.0.1:$GW_PORT backlog=4096;

        location /2fa/ {
            tfa_resend on;
            tfa_resend_credentials basic "soak:s3cret";
            tfa_resend_limit zone=soak;
            tfa_resend_limit_log_level info;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://infobip;
        }
    }
}
END


# ---- the loads ------------------------------------------------------

cat > "$work/random.lua" <<'END'
-- a fresh random pinId for every request; counts statuses by class
local fmt, random = string.format, math.random
local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("tid", #threads)
end

function init(args)
    math.randomseed((tonumber(args[1]) or os.time()) * 64 + tid)
    s2, s4, s5 = 0, 0, 0
end

function request()
    return wrk.format("POST", fmt("/2fa/2/pin/%08X%08X%08X%08X/resend/voice",
                                  random(0, 0xFFFFFFFF), random(0, 0xFFFFFFFF),
                                  random(0, 0xFFFFFFFF), random(0, 0xFFFFFFFF)),
                      { ["Connection"] = "close" })
end

function response(status)
    if status >= 500 then s5 = s5 + 1
    elseif status >= 400 then s4 = s4 + 1
    else s2 = s2 + 1 end
end

function done(summary)
    local t2, t4, t5 = 0, 0, 0
    for _, t in ipairs(threads) do
        t2, t4, t5 = t2 + t:get("s2"), t4 + t:get("s4"), t5 + t:get("s5")
    end
    local e = summary.errors
    io.write(fmt("SOAK requests=%d connect=%d read=%d write=%d timeout=%d"
                 .. " s2xx=%d s4xx=%d s5xx=%d\n", summary.requests,
                 e.connect, e.read, e.write, e.timeout, t2, t4, t5))
end
END

# the hammered pinIds: ABCDEF0000000000000000000000000N
sed -e 's/^function request()$/function request_random()/' \
    "$work/random.lua" > "$work/hammer.lua"
cat >> "$work/hammer.lua" <<END

local n = 0
function request()
    n = n + 1
    return wrk.format("POST",
                      fmt("/2fa/2/pin/ABCDEF%026X/resend/voice",
                          (n + tid) % $HAMMER + 1),
                      { ["Connection"] = "close" })
end
END


# ---- memory ---------------------------------------------------------

# "PID VMRSS SHMEM" lines (kB) of the master and its current workers
mem_sample() {
    local master p
    master=$(cat "$gw/logs/nginx.pid")
    for p in $master $(ps --ppid "$master" -o pid=,args= \
                       | awk '$0 ~ /nginx: worker process$/ { print $1 }')
    do
        awk -v pid="$p" '/^VmRSS:/ { r = $2 } /^RssShmem:/ { s = $2 }
                         END { print pid, r, s }' "/proc/$p/status"
    done
}

# "MASTER_PRIVATE WORKERS_PRIVATE WORKERS_VMRSS NWORKERS" (kB)
mem_sum() {
    awk 'NR == 1 { m = $2 - $3; next }
         { w += $2 - $3; v += $2; n++ }
         END { print m, w, v, n }'
}


# ---- run ------------------------------------------------------------

say "$SECONDS_RUN s, reload every $RELOAD_EVERY s, warm-up $WARMUP s;" \
    "random: $CONNECTIONS connections, hammer: $HAMMER pinIds over" \
    "$HAMMER_CONNECTIONS connections, rate=$LIMIT/1h"

"$nginx" -p "$mock/" -c conf/nginx.conf
started+=("$mock")
"$nginx" -p "$gw/" -c conf/nginx.conf -t -q
"$nginx" -p "$gw/" -c conf/nginx.conf
started+=("$gw")

for _ in $(seq 50); do
    (exec 3<> /dev/tcp/127.0.0.1/$GW_PORT) 2> /dev/null && break
    sleep 0.1
done

url=http://127.0.0.1:$GW_PORT
nonce=$(( $(date +%s) % 100000 ))

wrk -t "$THREADS" -c "$CONNECTIONS" -d "${SECONDS_RUN}s" --timeout 10s \
    -s "$work/random.lua" "$url" -- "$nonce" > "$work/wrk-random.out" 2>&1 &
pids+=($!)
wrk -t 1 -c "$HAMMER_CONNECTIONS" -d "${SECONDS_RUN}s" --timeout 10s \
    -s "$work/hammer.lua" "$url" -- "$nonce" > "$work/wrk-hammer.out" 2>&1 &
pids+=($!)

start=$(date +%s.%N)
at() {   # sleep until $1 s after the start
    local left
    left=$(awk -v s="$start" -v t="$1" -v now="$(date +%s.%N)" \
               'BEGIN { d = s + t - now; printf "%.3f", (d > 0 ? d : 0) }')
    sleep "$left"
}

reloads=0
warm=
last=
for t in $(seq 1 "$SECONDS_RUN"); do
    if [ $((t % RELOAD_EVERY)) = $((RELOAD_EVERY - 1)) ]; then
        at "$t"
        if [ -z "$warm" ] && [ "$t" -ge "$WARMUP" ]; then
            warm=$(mem_sample)
        elif [ -n "$warm" ] && [ $((t + RELOAD_EVERY)) -gt "$SECONDS_RUN" ]
        then
            last=$(mem_sample)
        fi
    fi

    if [ $((t % RELOAD_EVERY)) = 0 ] && [ "$t" -lt "$SECONDS_RUN" ]; then
        at "$t"
        "$nginx" -p "$gw/" -c conf/nginx.conf -s reload 2> /dev/null
        reloads=$((reloads + 1))
    fi
done

wait "${pids[@]}"
pids=()

# the old workers finish, the logs are flushed
sleep 2
"$nginx" -p "$gw/" -c conf/nginx.conf -s quit 2> /dev/null
"$nginx" -p "$mock/" -c conf/nginx.conf -s quit 2> /dev/null
for _ in $(seq 100); do
    [ -f "$gw/logs/nginx.pid" ] || [ -f "$mock/logs/nginx.pid" ] || break
    sleep 0.1
done
started=()


# ---- checks ---------------------------------------------------------

failed=0
check() {   # check OK|FAIL WHAT
    printf '  %-4s %s\n' "$1" "$2"
    [ "$1" = OK ] || failed=1
}

field() {   # field FILE NAME: NAME=value of the SOAK line
    sed -n "s/^SOAK .*\\b$2=\\([0-9]*\\).*/\\1/p" "$1"
}

for load in random hammer; do
    if ! grep -q '^SOAK ' "$work/wrk-$load.out"; then
        cat "$work/wrk-$load.out"
        die "wrk ($load) printed no summary"
    fi
done

r_req=$(field "$work/wrk-random.out" requests)
h_req=$(field "$work/wrk-hammer.out" requests)
errors=0
for load in random hammer; do
    for e in connect read write timeout; do
        errors=$((errors + $(field "$work/wrk-$load.out" $e)))
    done
done
s2=$(( $(field "$work/wrk-random.out" s2xx) + $(field "$work/wrk-hammer.out" s2xx) ))
s4=$(( $(field "$work/wrk-random.out" s4xx) + $(field "$work/wrk-hammer.out" s4xx) ))
s5=$(( $(field "$work/wrk-random.out" s5xx) + $(field "$work/wrk-hammer.out" s5xx) ))

# 5xx the gateway made: a 5xx whose upstream status was not the mock's 5xx
gw_5xx=$(awk '$1 >= 500 { n++ } END { print n + 0 }' "$gw/logs/access.log")
gw_own_5xx=$(awk '$1 >= 500 && $2 !~ /^5[0-9][0-9]$/ { n++ }
                  END { print n + 0 }' "$gw/logs/access.log")
gw_told_5xx=$(awk '$1 >= 500 && $2 ~ /^5[0-9][0-9]$/ && $3 ~ /^5/ { n++ }
                   END { print n + 0 }' "$gw/logs/access.log")
gw_499=$(awk '$1 == 499 { n++ } END { print n + 0 }' "$gw/logs/access.log")
mock_503=$(awk '$2 == 503 { n++ } END { print n + 0 }' "$mock/logs/access.log")
mock_401=$(awk '$2 == 401 { n++ } END { print n + 0 }' "$mock/logs/access.log")
mock_req=$(wc -l < "$mock/logs/access.log")

echo
say "requests: $((r_req + h_req)) in $SECONDS_RUN s" \
    "($(( (r_req + h_req) / SECONDS_RUN ))/s): random $r_req, hammer $h_req;" \
    "2xx $s2, 4xx $s4, 5xx $s5; the mock got $mock_req; reloads: $reloads"

[ "$reloads" -ge $(( SECONDS_RUN / RELOAD_EVERY - 1 )) ] \
    && check OK "$reloads reloads" || check FAIL "$reloads reloads"

[ "$errors" = 0 ] && check OK "socket errors: 0" \
    || check FAIL "socket errors: $errors (see $work/wrk-*.out)"

[ "$gw_own_5xx" = 0 ] && check OK "5xx made by the gateway: 0" \
    || check FAIL "5xx made by the gateway: $gw_own_5xx ($gw/logs/access.log)"

# Every 5xx is the mock's, for a pinId it was told to fail.  The counts
# may differ by the requests in flight when wrk's time was up: wrk does
# not count their answers, and nginx logs them as 499.
[ "$gw_told_5xx" = "$gw_5xx" ] \
    && [ "$s5" -le "$gw_5xx" ] \
    && [ $((mock_503 - gw_5xx)) -le "$gw_499" ] \
    && [ $((gw_5xx - mock_503)) -le 0 ] \
    && check OK "5xx: all for pinIds the mock was told to fail: it sent $mock_503, the gateway passed on $gw_5xx (and $gw_499 answers to clients gone at the end)" \
    || check FAIL "5xx: the mock sent $mock_503, the gateway logged $gw_5xx ($gw_told_5xx for pinIds told to fail), clients got $s5"

[ "$mock_401" = 0 ] && check OK "requests without the credentials at the mock: 0" \
    || check FAIL "requests without the credentials at the mock: $mock_401"

bad=
for i in $(seq 1 "$HAMMER"); do
    pin=$(printf 'ABCDEF%026X' "$i")
    n=$(grep -c "/pin/$pin/" "$mock/logs/access.log" || true)
    [ "$n" = "$LIMIT" ] || bad="$bad $pin:$n"
done
hammered=$(awk '$3 ~ /^ABCDEF/ { n++ } END { print n + 0 }' "$gw/logs/access.log")
[ -z "$bad" ] \
    && check OK "each of $HAMMER hammered pinIds reached the mock exactly $LIMIT times ($hammered requests for them)" \
    || check FAIL "hammered pinIds that did not reach the mock $LIMIT times:$bad"

read -r wm ww wv wn <<< "$(echo "$warm" | mem_sum)"
read -r lm lw lv ln <<< "$(echo "$last" | mem_sum)"
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f", (b - a) * 100 / a }'; }
within() { awk -v a="$1" -v b="$2" -v p="$RSS_PCT" \
               'BEGIN { exit !((b - a) * 100 <= p * a) }'; }
say "memory (kB, RSS less shared memory; VmRSS in brackets):" \
    "workers $ww [$wv] ($wn) after warm-up, $lw [$lv] ($ln) at the end" \
    "($(pct "$ww" "$lw") %); master $wm, $lm ($(pct "$wm" "$lm") %)"
within "$ww" "$lw" && check OK "workers' memory within $RSS_PCT %" \
    || check FAIL "workers' memory grew more than $RSS_PCT %"
within "$wm" "$lm" && check OK "master's memory within $RSS_PCT %" \
    || check FAIL "master's memory grew more than $RSS_PCT %"

bad=$(awk '/\[(alert|crit|emerg)\]|exited on signal/ { n++ } END { print n + 0 }' \
      "$gw/logs/error.log" "$mock/logs/error.log")
[ "$bad" = 0 ] && check OK "[alert]/[crit]/[emerg]/exited on signal in the logs: 0" \
    || { grep -E '\[(alert|crit|emerg)\]|exited on signal' "$gw/logs/error.log" \
             "$mock/logs/error.log" | head -n 20
         check FAIL "[alert]/[crit]/[emerg]/exited on signal in the logs: $bad"; }

echo
if [ "$failed" = 0 ]; then
    say "PASS"
else
    say "FAILED (logs in $work)"
    exit 1
fi
