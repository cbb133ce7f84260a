#!/usr/bin/env bash
# The Test::Nginx suite in t/ under OpenResty's own test-nginx instead of
# the runner bundled in t/lib: the t/*.t files must pass unchanged under
# both.  Give it the lib directory of a test-nginx checkout that is
# already on this machine (the one holding Test/Nginx/Socket.pm); nothing
# is downloaded or installed.
#
#   TEST_NGINX_UPSTREAM_LIB=/path/to/test-nginx/lib util/test-upstream.sh
#   TEST_NGINX_UPSTREAM_LIB=... util/test-upstream.sh t/limit.t
#
# With no file named: every t/*.t, plus t/runner/basic.t (the runner
# self-test that follows upstream's semantics; t/runner/negative.t is
# specific to the bundled runner).  Like util/test.sh: the module is built
# with util/build.sh into $BUILD, and Debian's nginx runs it on a free
# port with its own server root unless TEST_NGINX_SERVER_PORT and
# TEST_NGINX_SERVROOT say otherwise.  upstream test-nginx needs the
# Perl modules the Debian packages in util/deps.sh bring (Test::Base,
# Test::LongString, List::MoreUtils, Text::Diff, URI, libwww's
# HTTP::Response, IPC::Run).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

lib=${TEST_NGINX_UPSTREAM_LIB:-}
if [ -z "$lib" ]; then
    echo "test-upstream: set TEST_NGINX_UPSTREAM_LIB to the lib directory" \
         "of a test-nginx checkout" >&2
    exit 2
fi
lib=$(cd "$lib" 2>/dev/null && pwd) || {
    echo "test-upstream: no directory $TEST_NGINX_UPSTREAM_LIB" >&2
    exit 2
}

# the upstream module must be the one loaded, not t/lib's
found=$(perl -I"$lib" -MTest::Nginx::Socket \
        -e 'print $INC{"Test/Nginx/Socket.pm"}') || {
    echo "test-upstream: Test::Nginx::Socket does not load from $lib" >&2
    exit 2
}
case $found in
    "$lib"/*) ;;
    *) echo "test-upstream: Test::Nginx::Socket loads from $found," \
            "not from $lib (PERL5LIB?)" >&2
       exit 2 ;;
esac

BUILD=${BUILD:-$root/build}
export BUILD

printf '\n=== building the module with gcc\n'
util/build.sh

export TEST_NGINX_BINARY=${TEST_NGINX_BINARY:-/usr/sbin/nginx}

if [ -z "${TEST_NGINX_SERVER_PORT:-}" ]; then
    TEST_NGINX_SERVER_PORT=$(perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                      LocalPort => 0) or die "no port: $!";
        print $s->sockport')
    export TEST_NGINX_SERVER_PORT
fi
export TEST_NGINX_SERVROOT=${TEST_NGINX_SERVROOT:-$root/t/servroot-$TEST_NGINX_SERVER_PORT}
export TEST_NGINX_LOAD_MODULES=${TEST_NGINX_LOAD_MODULES:-$BUILD/ngx_http_tfa_resend_module.so}

printf '\n=== Test::Nginx suite (upstream test-nginx from %s)\n' "$lib"

if [ $# -eq 0 ]; then
    set -- t/*.t t/runner/basic.t
fi
rc=0
prove -I "$lib" "$@" || rc=$?
[ -n "${TEST_NGINX_NO_CLEAN:-}" ] || rm -rf "$TEST_NGINX_SERVROOT"
exit $rc
