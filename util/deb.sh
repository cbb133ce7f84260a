#!/usr/bin/env bash
# Build the Debian package libnginx-mod-http-tfa-resend with Debian's own
# nginx module tooling (nginx-dev's dh-sequence-nginx), then check it with
# lintian.
#
#   util/deb.sh         install what is missing, build, lintian
#
# The package is built from a copy of this clone's files (tracked and
# untracked, not ignored) under build/deb/, because dpkg-buildpackage writes
# its results next to the source tree; the .deb, .buildinfo and .changes end
# up in build/deb/.  The module's sources are whatever `config` lists.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$root/build/deb

say() { printf '\n=== %s\n' "$*"; }

say "installing missing Debian packages"
util/deps.sh deb

# debian/control is the authority on what the build needs: stop here, with
# the missing names, when util/deps.sh and it disagree
dpkg-checkbuilddeps

src=$(dpkg-parsechangelog -S Source)
ver=$(dpkg-parsechangelog -S Version)
tree=$out/$src-$ver

say "copying the source to $tree"
rm -rf "$out"
mkdir -p "$tree"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$root" ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do
              [ -e "$f" ] && printf '%s\0' "$f"   # skip deleted, unstaged
          done \
        | tar -C "$root" --null -T - -cf - | tar -C "$tree" -xf -
else
    tar -C "$root" --exclude=./build --exclude='./t/servroot*' -cf - . \
        | tar -C "$tree" -xf -
fi

say "dpkg-buildpackage -us -uc -b"
(cd "$tree" && dpkg-buildpackage -us -uc -b) > "$out/build.log" 2>&1 || {
    tail -n 40 "$out/build.log" >&2
    echo "deb: the build failed; the whole log is $out/build.log" >&2
    exit 1
}
rm -rf "$tree"

say "lintian"
changes=$(ls "$out"/"${src}"_"${ver}"_*.changes)
lintian --fail-on error "$changes"

echo
ls -1 "$out"/*.deb
echo "deb: install with: apt install $out/${src}_${ver}_*.deb"
