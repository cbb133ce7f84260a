#!/usr/bin/env bash
# Install the Debian packages a task needs, by name, only those missing.
#
#   util/deps.sh build|test|bench|deb|all
#
# Idempotent: an installed package is never touched again, and apt-get runs
# only when something is missing.  Nothing is downloaded from anywhere but
# Debian's archive.
set -euo pipefail

build_pkgs="gcc make nginx nginx-dev libjansson-dev libpcre2-dev pkg-config
            libhiredis-dev libssl-dev"
test_pkgs="clang libclang-rt-14-dev perl libtest-base-perl
           libtest-longstring-perl liblist-moreutils-perl libtext-diff-perl
           liburi-perl libwww-perl libipc-run-perl curl valgrind
           redis-server redis-sentinel python3-prometheus-client
           prometheus ca-certificates"
deb_pkgs="debhelper dpkg-dev lintian"
bench_pkgs="wrk libnginx-mod-http-lua lua-cjson libnginx-mod-http-js
            valgrind redis-server"

case ${1:-all} in
    build) want=$build_pkgs ;;
    test)  want="$build_pkgs $test_pkgs" ;;
    bench) want="$build_pkgs $bench_pkgs" ;;
    deb)   want="$build_pkgs $deb_pkgs" ;;
    all)   want="$build_pkgs $test_pkgs $bench_pkgs $deb_pkgs" ;;
    *)     echo "usage: $0 build|test|bench|deb|all" >&2; exit 2 ;;
esac

missing=
for p in $want; do
    if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null \
         | grep -q 'install ok installed'
    then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "deps: all Debian packages for '${1:-all}' are installed"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "deps: missing Debian packages:$missing" >&2
    echo "deps: run as root, or: sudo apt-get install$missing" >&2
    exit 1
fi

echo "deps: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends $missing; then
    echo "deps: refreshing the package lists (apt-get update) and retrying"
    apt-get update -q
    apt-get install -y -q --no-install-recommends $missing
fi

# Debian's nginx package starts a server on port 80 where an init system
# runs; the tests and the demo start their own nginx, so leave it alone but
# make sure none of ours is confused with it.
echo "deps: done"
