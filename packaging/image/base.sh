#!/usr/bin/env bash
# The image's base: a Debian 12 root file system made by debootstrap from Debian's
# mirror (no container registry is needed), with nginx and what the packages need.
# debootstrap takes minutes, so the result is kept as a tarball in a cache outside
# the clone, keyed by everything that goes into it; a later build reuses it.
# Prints the tarball's path on stdout.
set -euo pipefail

suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# nginx for the module; adduser for set-backend-api's postinst; ca-certificates for an
# etcd cluster behind TLS; libstdc++6 for node.
include=nginx,adduser,ca-certificates,libstdc++6
# Bump when this script changes what it makes.
recipe=1

cache=${SET_BACKEND_CACHE:-/var/cache/set-backend}/rootfs
mkdir -p "$cache" 2>/dev/null || cache=$(cd "$(dirname "$0")/../.." && pwd)/build/cache/rootfs
mkdir -p "$cache"
key=$(printf '%s\n' "$suite" "$mirror" "$include" "$recipe" | sha256sum | cut -c1-16)
tarball="$cache/debian-$suite-$key.tar"
if [ -s "$tarball" ]; then
  echo "base: cached $tarball" >&2
  echo "$tarball"
  exit 0
fi

work=$(mktemp -d "$cache/debootstrap.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "base: debootstrap $suite ($include) from $mirror, a few minutes" >&2
debootstrap --variant=minbase --include="$include" "$suite" "$work/root" "$mirror" >"$work/log" 2>&1 || {
  tail -30 "$work/log" >&2
  exit 1
}
# Package lists and downloaded .debs are not needed in the image.
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
tar -C "$work/root" --numeric-owner -cf "$tarball.part" .
mv "$tarball.part" "$tarball"
echo "base: cached $tarball" >&2
echo "$tarball"
