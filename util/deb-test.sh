#!/usr/bin/env bash
# The Debian package on this machine's Debian nginx, from a clone to a purge:
# build it (util/deb.sh, lintian included), install it with apt-get, run the
# package's own autopkgtest (debian/tests/smoke: the modules-enabled link,
# `nginx -t` with the system configuration plus a tfa_resend site, a resend
# through the module to a mock), purge it, and check that the link, the
# module and every file the test added are gone.
#
#   util/deb-test.sh          as root
#
# The machine's nginx is left as it was found: its files under /etc/nginx,
# the modules and their snippets, /var/lib/nginx, /var/log/nginx, /run's pid
# file and the nginx packages are compared before and after.  The smoke test
# runs in network and mount namespaces of its own: its ports cannot clash
# with anything, and what `nginx -t` writes (the pid file, the temporary
# directories, the logs) goes to throwaway tmpfs mounts, not to the system.
# apt-get runs outside them, against the real system.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
pkg=libnginx-mod-http-tfa-resend
link=/etc/nginx/modules-enabled/50-mod-http-tfa-resend.conf
started=$(date +%s)

if [ "$(id -u)" != 0 ]; then
    echo "deb-test: run as root (it installs and purges a package)" >&2
    exit 1
fi
if dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q installed; then
    echo "deb-test: $pkg is installed already; this test would purge it," \
         "so it stops here" >&2
    exit 1
fi

n=0
failed=0
ok()  { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

state() {
    find /etc/nginx /usr/lib/nginx /usr/share/nginx/modules-available \
         -printf '%p %y %m %u:%g %s %l\n' | sort
    find /etc/nginx -type f -exec md5sum {} + | sort -k2
    # a running nginx writes its logs: their names, not their sizes
    find /var/lib/nginx /var/log/nginx -printf '%p %y %m %u:%g\n' | sort
    if [ -e /run/nginx.pid ]; then
        local pid
        pid=$(cat /run/nginx.pid)
        echo "/run/nginx.pid: '$pid'"
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            echo "nginx master $pid running"
        fi
    else
        echo "/run/nginx.pid: none"
    fi
    dpkg-query -W -f '${Package} ${Version} ${Status}\n' \
        'nginx*' 'libnginx-mod-*' 2>/dev/null | grep -v not-installed
}

apt() {
    DEBIAN_FRONTEND=noninteractive apt-get -q -y \
        -o DPkg::Lock::Timeout=600 "$@"
}

installed=
purge() {
    apt purge "$pkg" > build/deb/purge.log 2>&1
}
cleanup() {
    if [ -n "$installed" ]; then
        echo "deb-test: purging $pkg after a failure" >&2
        purge || cat build/deb/purge.log >&2
    fi
}
trap cleanup EXIT

echo "=== util/deb.sh"
mkdir -p build
if util/deb.sh > build/deb-build.log 2>&1; then
    ok "util/deb.sh builds the package and lintian reports no errors"
    sed -n '/^=== lintian/,$p' build/deb-build.log | sed 's/^/# /'
else
    nok "util/deb.sh builds the package and lintian reports no errors"
    tail -n 30 build/deb-build.log | sed 's/^/# /'
    echo "deb-test: $((n - failed)) passed, $failed failed"
    exit 1
fi
mv build/deb-build.log build/deb/

# after the build, which may have installed its build dependencies
state > build/deb/state.before 2>&1

debs=(build/deb/"$pkg"_*.deb)
echo "=== apt-get install ./${debs[0]}"
installed=yes
if apt install --no-install-recommends "./${debs[0]}" \
       > build/deb/install.log 2>&1
then
    ok "apt-get install ./${debs[0]##*/} succeeds (no init system running)"
else
    nok "apt-get install ./${debs[0]##*/} succeeds (no init system running)"
    sed 's/^/# /' build/deb/install.log
fi
if [ -L "$link" ]; then
    ok "the install enables the module: $link"
else
    nok "the install enables the module: $link"
fi
if dpkg-query -W -f '${Depends}' "$pkg" | grep -q 'nginx-abi-'; then
    ok "the package depends on the nginx ABI it was built for" \
       "($(dpkg-query -W -f '${Depends}' "$pkg" | grep -o 'nginx-abi-[^,]*'))"
else
    nok "the package depends on the nginx ABI it was built for"
fi

echo "=== debian/tests/smoke (private network and mount namespaces)"
if unshare -n -m bash -c '
       set -e
       ip link set lo up
       for d in /run /var/lib/nginx /var/log/nginx; do
           mount -t tmpfs tmpfs "$d"
       done
       exec debian/tests/smoke' > build/deb/smoke.log 2>&1
then
    ok "the package's autopkgtest passes ($(tail -n 1 build/deb/smoke.log))"
else
    nok "the package's autopkgtest passes"
fi
sed 's/^/# /' build/deb/smoke.log

echo "=== apt-get purge $pkg"
if purge; then
    ok "apt-get purge $pkg succeeds"
    installed=
else
    nok "apt-get purge $pkg succeeds"
    sed 's/^/# /' build/deb/purge.log
fi
if [ ! -e "$link" ] && [ ! -L "$link" ]; then
    ok "the purge removes the link $link"
else
    nok "the purge removes the link $link"
fi
if [ ! -e /usr/lib/nginx/modules/ngx_http_tfa_resend_module.so ] \
   && [ ! -e /usr/share/nginx/modules-available/mod-http-tfa-resend.conf ]
then
    ok "the purge removes the module and its snippet"
else
    nok "the purge removes the module and its snippet"
fi

state > build/deb/state.after 2>&1
if diff -u build/deb/state.before build/deb/state.after \
       > build/deb/state.diff
then
    ok "the machine's nginx is as the test found it"
else
    nok "the machine's nginx is as the test found it"
    sed 's/^/# /' build/deb/state.diff
fi

echo "1..$n"
echo "deb-test: $((n - failed)) passed, $failed failed" \
     "($(( $(date +%s) - started ))s)"
[ "$failed" = 0 ]
