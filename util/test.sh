#!/usr/bin/env bash
# The whole test suite: install what is missing, build the module with gcc
# and clang (-Wall -Wextra -Werror) and once more without --with-debug, run
# the C unit tests, then the Test::Nginx suite in t/ against Debian's own
# nginx loading the module.
#
#   util/test.sh                  everything
#   util/test.sh t/limit.t        only these Test::Nginx files
#
# Test::Nginx: an installed one (OpenResty's test-nginx) is used when
# `perl -MTest::Nginx::Socket -e1` works, else the one bundled in t/lib.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BUILD=${BUILD:-$root/build}
export BUILD

say() { printf '\n=== %s\n' "$*"; }

say "installing missing Debian packages"
util/deps.sh test

say "building the module with gcc"
util/build.sh

if [ $# -eq 0 ]; then
    say "building the module with clang (warnings are errors)"
    CC=clang util/build.sh

    say "building the module with gcc without --with-debug"
    WITH_DEBUG=no util/build.sh

    say "C unit tests"
    make -s unit
fi

export TEST_NGINX_BINARY=${TEST_NGINX_BINARY:-/usr/sbin/nginx}

# Runs of different files may overlap on one machine (several engineers, or
# a bench beside a test): each run gets its own server root and a free port
# unless told otherwise.
if [ -z "${TEST_NGINX_SERVER_PORT:-}" ]; then
    TEST_NGINX_SERVER_PORT=$(perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                      LocalPort => 0) or die "no port: $!";
        print $s->sockport')
    export TEST_NGINX_SERVER_PORT
fi
export TEST_NGINX_SERVROOT=${TEST_NGINX_SERVROOT:-$root/t/servroot-$TEST_NGINX_SERVER_PORT}
export TEST_NGINX_LOAD_MODULES=${TEST_NGINX_LOAD_MODULES:-$BUILD/ngx_http_tfa_resend_module.so}

inc=
if perl -MTest::Nginx::Socket -e1 2>/dev/null; then
    say "Test::Nginx suite (installed Test::Nginx)"
else
    inc="-I $root/t/lib"
    if [ $# -eq 0 ]; then
        say "self-tests of the bundled Test::Nginx runner"
        prove $inc -r t/runner
    fi
    say "Test::Nginx suite (bundled runner in t/lib)"
fi

if [ $# -eq 0 ]; then
    set -- t/*.t
fi
rc=0
prove $inc "$@" || rc=$?
[ -n "${TEST_NGINX_NO_CLEAN:-}" ] || rm -rf "$TEST_NGINX_SERVROOT"
exit $rc
