#!/usr/bin/env bash
# Build ngx_http_tfa_resend_module.so against the nginx source tree that
# Debian's nginx-dev installs, with the same configure flags as Debian's own
# nginx (its conf_flags) plus --with-compat, so that the module loads into the
# stock /usr/sbin/nginx.  Everything is written under $BUILD; the system tree
# is only read.
#
#   util/build.sh                 build $BUILD/ngx_http_tfa_resend_module.so
#   CC=clang util/build.sh        the same with clang
#   WITH_DEBUG=no util/build.sh   Debian's flags without --with-debug: what
#                                 nginx's configure gives by default, where a
#                                 variable read only by ngx_log_debug*() is
#                                 unused and stops the build (-Werror)
#   EXTRA_CFLAGS=... util/build.sh
#
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$root/build}
CC=${CC:-gcc}
NGX_SRC=${NGX_SRC:-/usr/share/nginx/src}
EXTRA_CFLAGS=${EXTRA_CFLAGS:-}
EXTRA_LDFLAGS=${EXTRA_LDFLAGS:-}
WITH_DEBUG=${WITH_DEBUG:-yes}

case $BUILD in /*) ;; *) BUILD=$root/$BUILD ;; esac

if [ ! -f "$NGX_SRC/conf_flags" ]; then
    echo "build: $NGX_SRC/conf_flags not found; install the nginx-dev package" >&2
    exit 1
fi

# one source copy per compiler and flag set, so gcc, clang and sanitizer
# builds never mix objects
tag=$(printf '%s|%s|%s' "$CC" "$EXTRA_CFLAGS" "$EXTRA_LDFLAGS" \
      | md5sum | cut -c1-8)
tree=$BUILD/nginx-$(basename "$CC")-$tag
case $WITH_DEBUG in
    yes) ;;
    no)  tree=$tree-nodebug ;;
    *)   echo "build: WITH_DEBUG is yes or no, not '$WITH_DEBUG'" >&2; exit 2 ;;
esac

if [ ! -x "$tree/configure" ]; then
    echo "build: copying $NGX_SRC to $tree"
    mkdir -p "$tree"
    cp -a "$NGX_SRC"/. "$tree"/
fi

# shellcheck disable=SC1091
. "$NGX_SRC/conf_flags"

if [ "$WITH_DEBUG" = no ]; then
    flags=()
    for f in "${NGX_CONF_FLAGS[@]}"; do
        [ "$f" = --with-debug ] || flags+=("$f")
    done
    NGX_CONF_FLAGS=("${flags[@]}")
fi

cflags="-g -O2 -fPIC -Wall -Wextra -Wno-unused-parameter -Werror $EXTRA_CFLAGS"
ldflags="-fPIC $EXTRA_LDFLAGS"

stamp="$tree/.tfa_resend_configured"
want=$(printf '%s\n' "${NGX_CONF_FLAGS[@]}" "$cflags" "$ldflags" \
       | cat - "$root/config" | md5sum | cut -c1-32)

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "build: configuring nginx $(cd "$tree" && \
         sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' \
         src/core/nginx.h) with --with-compat --add-dynamic-module=$root ($CC)"
    (cd "$tree" && ./configure "${NGX_CONF_FLAGS[@]}" \
        --with-cc="$CC" --with-cc-opt="$cflags" --with-ld-opt="$ldflags" \
        --add-dynamic-module="$root" > "$tree/configure.log" 2>&1) || {
        tail -n 20 "$tree/configure.log" >&2
        exit 1
    }
    echo "$want" > "$stamp"
fi

echo "build: compiling the module ($CC)"
make -s -C "$tree" -f objs/Makefile modules

so=$tree/objs/ngx_http_tfa_resend_module.so
if [ "$CC" = gcc ] && [ -z "$EXTRA_CFLAGS$EXTRA_LDFLAGS" ] \
   && [ "$WITH_DEBUG" = yes ]
then
    # a running nginx maps the old file: replace it, never write into it
    cp "$so" "$BUILD/.ngx_http_tfa_resend_module.so.$$"
    mv -f "$BUILD/.ngx_http_tfa_resend_module.so.$$" \
          "$BUILD/ngx_http_tfa_resend_module.so"
    echo "build: $BUILD/ngx_http_tfa_resend_module.so"
else
    echo "build: $so"
fi
