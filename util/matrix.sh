#!/usr/bin/env bash
# The version matrix: for each nginx source (a tree or a .tar.gz of one),
# build nginx from it and the module against it, then run the Test::Nginx
# suite against that nginx with the module loaded.  One line per version;
# exits non-zero when any version fails to build or to pass.
#
#   util/matrix.sh                every nginx-*.tar.gz and nginx-*/ tree in
#                                 ../shared/nginx-src/ beside this repository
#   NGX_MATRIX_SRC="/path/to/nginx-1.27.0 /tmp/nginx-1.25.5.tar.gz" \
#   util/matrix.sh                those instead (a release tarball, or a tree
#                                 with configure or auto/configure)
#   util/matrix.sh t/limit.t      only these Test::Nginx files
#   CC=clang util/matrix.sh       build with clang (nginx and the module)
#
# The builds are not debug builds (no --with-debug: what nginx's own
# configure gives and what nginx.org's packages ship), with --with-compat.
# The suite needs two optional nginx modules, auth_request (t/intercept.t)
# and SSL (https upstreams in t/secret.t, TLS to Redis in t/redis-tls.t
# and t/redis-sentinel.t); proxy, upstream keepalive, gzip, rewrite and
# regex locations are built in.
#
# Everything goes under $BUILD/matrix/<source>/: the source (a copy, so that
# configure writes nothing into the user's tree), objs-nginx/ (nginx,
# configured alone) and objs-module/ (the same configure arguments plus
# --add-dynamic-module, built with `make modules` as a user would against an
# installed nginx).  nginx is built once per source, compiler and flags;
# the module is rebuilt by make when its sources change, reconfigured when
# ./config does.  Logs: configure-*.log, make-*.log, tests.log there.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
here=$(pwd)
cd "$root"
BUILD=${BUILD:-$root/build}
case $BUILD in /*) ;; *) BUILD=$root/$BUILD ;; esac
CC=${CC:-gcc}
JOBS=${MATRIX_JOBS:-2}
matrix=$BUILD/matrix

# the warnings util/build.sh asks for, for nginx and the module alike
# (nginx's own default already has -Werror)
conf_flags=(--with-compat --with-http_ssl_module
            --with-http_auth_request_module)
cflags="-g -O2 -Wall -Wextra -Wno-unused-parameter -Werror"

if [ -n "${NGX_MATRIX_SRC:-}" ]; then
    sources=()
    for s in $NGX_MATRIX_SRC; do
        case $s in /*) ;; *) s=$here/$s ;; esac
        sources+=("$s")
    done
else
    sources=()
    for s in "$root"/../shared/nginx-src/nginx-*; do
        case $s in *.tar.gz|*.tgz) ;; *) [ -d "$s" ] || continue ;; esac
        [ -e "$s" ] && sources+=("$s")
    done
    if [ ${#sources[@]} -eq 0 ]; then
        echo "matrix: no nginx source in $root/../shared/nginx-src/;" \
             "set NGX_MATRIX_SRC" >&2
        exit 1
    fi
fi

if [ $# -eq 0 ]; then
    set -- t/*.t
fi

inc=
if ! perl -MTest::Nginx::Socket -e1 2>/dev/null; then
    inc="-I $root/t/lib"
fi

# a key that changes when the source does: the tarball's bytes, or the
# names, sizes and times of a tree's files
source_key() {
    if [ -f "$1" ]; then
        md5sum < "$1"
    else
        (cd "$1" && find . -path ./objs -prune -o -type f \
             -printf '%p %s %T@\n' | LC_ALL=C sort | md5sum)
    fi | cut -c1-8
}

# configure <srcdir> <builddir> <log> [extra arguments]
configure() {
    local dir=$1 objs=$2 log=$3 conf
    shift 3
    conf=./configure
    [ -x "$dir/configure" ] || conf=auto/configure
    (cd "$dir" && $conf --builddir="$objs" "${conf_flags[@]}" \
         --with-cc="$CC" --with-cc-opt="$cflags" "$@") > "$log" 2>&1
}

# one version: build nginx and the module, run the suite; prints its line
one() {
    local src=$1 name key dir version stamp want log rc t0 tests failed
    local line

    shift

    name=$(basename "$src")
    name=${name%.tar.gz}
    name=${name%.tgz}
    key=$(source_key "$src")
    dir=$matrix/$name-$(basename "$CC")-$key
    mkdir -p "$dir"

    if [ ! -f "$dir/.unpacked" ]; then
        rm -rf "$dir/src"
        mkdir -p "$dir/src"
        if [ -f "$src" ]; then
            tar -xzf "$src" -C "$dir/src" --strip-components=1 || return 1
        else
            cp -a "$src"/. "$dir/src"/ || return 1
            rm -rf "$dir/src/objs" "$dir/src/Makefile"
        fi
        touch "$dir/.unpacked"
    fi

    version=$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' \
              "$dir/src/src/core/nginx.h")
    line=$(printf 'matrix: nginx %-8s' "$version")
    t0=$(date +%s)

    # nginx itself, once per source and flags
    stamp=$dir/src/objs-nginx/.tfa_resend_built
    want=$(printf '%s\n' "${conf_flags[@]}" "$CC" "$cflags" | md5sum)
    if [ ! -x "$dir/src/objs-nginx/nginx" ] || [ ! -f "$stamp" ] \
       || [ "$(cat "$stamp")" != "$want" ]
    then
        echo "matrix: $name: building nginx $version ($CC, make -j$JOBS)" >&2
        rm -rf "$dir/src/objs-nginx"
        if ! configure "$dir/src" objs-nginx "$dir/configure-nginx.log" \
           || ! make -C "$dir/src" -f objs-nginx/Makefile -j"$JOBS" \
                > "$dir/make-nginx.log" 2>&1
        then
            tail -n 30 "$dir/configure-nginx.log" "$dir/make-nginx.log" \
                2>/dev/null >&2 || true
            echo "$line  build FAILED (nginx; see $dir)"
            return 1
        fi
        echo "$want" > "$stamp"
    fi

    # the module: the same configure arguments, plus the module
    stamp=$dir/src/objs-module/.tfa_resend_configured
    want=$(printf '%s\n' "${conf_flags[@]}" "$CC" "$cflags" \
           | cat - "$root/config" | md5sum)
    log=$dir/make-module.log
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "matrix: $name: configuring the module against nginx $version" >&2
        rm -rf "$dir/src/objs-module"
        if ! configure "$dir/src" objs-module "$dir/configure-module.log" \
               --add-dynamic-module="$root"
        then
            tail -n 30 "$dir/configure-module.log" >&2
            echo "$line  build FAILED (module configure; see $dir)"
            return 1
        fi
        echo "$want" > "$stamp"
    fi
    echo "matrix: $name: building the module" >&2
    if ! make -C "$dir/src" -f objs-module/Makefile -j"$JOBS" modules \
         > "$log" 2>&1
    then
        grep -E 'error:|warning:' "$log" | head -n 30 >&2 \
            || tail -n 30 "$log" >&2
        echo "$line  build FAILED (module; see $log)"
        return 1
    fi

    # the suite, on a free port and in a server root of its own
    log=$dir/tests.log
    echo "matrix: $name: the Test::Nginx suite, $# file(s)" >&2
    rc=0
    TEST_NGINX_BINARY=$dir/src/objs-nginx/nginx \
    TEST_NGINX_LOAD_MODULES=$dir/src/objs-module/ngx_http_tfa_resend_module.so \
    TEST_NGINX_SERVROOT=$dir/servroot \
    TEST_NGINX_SERVER_PORT=$(perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                      LocalPort => 0) or die "no port: $!";
        print $s->sockport') \
        prove $inc "$@" > "$log" 2>&1 || rc=$?
    [ -n "${TEST_NGINX_NO_CLEAN:-}" ] || rm -rf "$dir/servroot"

    tests=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$log")
    failed=$(sed -n 's/.*Failed \([0-9]*\)\/[0-9]* subtests.*/\1/p' "$log" \
             | awk '{ n += $1 } END { print n + 0 }')
    line="$line  build ok  tests $((${tests:-0} - failed)) passed,"
    line="$line $failed failed  ($(( $(date +%s) - t0 )) s)"
    if [ "$rc" != 0 ]; then
        grep -E '^(#   Failed test|t/.*Wstat|Bail|FAILED)' "$log" \
            | head -n 40 >&2 || true
        [ "$failed" != 0 ] || line="$line, prove exit $rc"
        echo "$line  FAILED (see $log)"
        return 1
    fi
    echo "$line"
}

start=$(date +%s)
lines=()
bad=0
for src in "${sources[@]}"; do
    if [ ! -e "$src" ]; then
        lines+=("matrix: $src: no such source")
        bad=1
        continue
    fi
    out=$(one "$src" "$@") || bad=1
    echo "$out"
    lines+=("$out")
done

echo
printf '%s\n' "${lines[@]}"
echo "matrix: ${#sources[@]} version(s), $(( $(date +%s) - start )) s," \
     "$([ $bad = 0 ] && echo ok || echo FAILED)"
exit $bad
