#!/usr/bin/env bash
# The main job: build the module and run Debian's nginx with the example
# gateway (conf/gateway.conf) and its embedded mock Infobip upstream.
#
#   util/run.sh          install what is missing, build, start (background)
#   util/run.sh stop     stop it
#   util/run.sh reload   re-read conf (nginx -s reload)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$root/build}
prefix=$BUILD/run
nginx=${TEST_NGINX_BINARY:-/usr/sbin/nginx}

signal() {
    if [ -f "$prefix/logs/nginx.pid" ]; then
        "$nginx" -p "$prefix" -c "$prefix/nginx.conf" -s "$1"
        echo "run: nginx $1 sent"
    else
        echo "run: not running"
    fi
}

case ${1:-start} in
    stop)   signal quit; exit 0 ;;
    reload) signal reload; exit 0 ;;
    start)  ;;
    *)      echo "usage: $0 [start|stop|reload]" >&2; exit 2 ;;
esac

"$root/util/deps.sh" build
"$root/util/build.sh"

mkdir -p "$prefix/logs" "$prefix/tmp"

# demo credentials for the mock; live ones go in a file of your own
if [ ! -f "$prefix/infobip.secret" ]; then
    (umask 077 && echo "demo-user:demo-password" > "$prefix/infobip.secret")
fi
sed -e "s|@MODULE@|$BUILD/ngx_http_tfa_resend_module.so|" \
    -e "s|@PREFIX@|$prefix|g" \
    "$root/conf/gateway.conf" > "$prefix/nginx.conf"

if [ -f "$prefix/logs/nginx.pid" ] \
   && kill -0 "$(cat "$prefix/logs/nginx.pid")" 2>/dev/null
then
    echo "run: already running; reloading with the new build's config"
    "$nginx" -p "$prefix" -c "$prefix/nginx.conf" -s reload
else
    "$nginx" -p "$prefix" -c "$prefix/nginx.conf" -t -q
    "$nginx" -p "$prefix" -c "$prefix/nginx.conf"
fi

cat <<END
run: the gateway listens on http://127.0.0.1:8080, the mock Infobip API on
     127.0.0.1:8081; config $prefix/nginx.conf, logs $prefix/logs/.
     Try:
       curl -s -X POST http://127.0.0.1:8080/2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
     Stop it with: util/run.sh stop
END
