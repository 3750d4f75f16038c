#!/usr/bin/env bash
# `make image`: the container image, built with buildah (no registry, no daemon):
#   a Debian 12 base made by debootstrap (packaging/image/base.sh, cached),
#   + Node.js from this machine's nodejs package (Debian 12's own is 18; the
#     image takes the Node ≥ 20 the build already needs, repacked by dpkg-repack),
#   + the two packages of `make deb`,
#   entrypoint: the supervisor of `make run` (scripts/run.ts, compiled), which
#   starts the route API and nginx, restarts a failed API while nginx keeps routing,
#   and logs both on stdout.
# Writes build/image/set-backend-image.tar (docker-archive: `docker load` or
# `podman load` it) and leaves the image in buildah's local storage.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
version=${DEB_VERSION:-$(node -p 'require("./package.json").version')-1}
tag=set-backend:$version
out=build/image
debs=(build/deb/libnginx-mod-http-set-backend_"$version"_amd64.deb build/deb/set-backend-api_"$version"_amd64.deb)
for deb in "${debs[@]}"; do
  [ -s "$deb" ] || { echo "make image: $deb is missing (make deb makes it)" >&2; exit 1; }
done
cache=${SET_BACKEND_CACHE:-/var/cache/set-backend}
mkdir -p "$cache" 2>/dev/null || cache=$root/build/cache

# Nothing to do when the image was built from these very packages, scripts and Node.
node_bin=$(readlink -f "$(command -v node)")
node_pkg=$(dpkg -S "$node_bin" 2>/dev/null | cut -d: -f1 || true)
inputs=$(sha256sum "${debs[@]}" packaging/image/*.sh <(dpkg-query -W "$node_pkg" 2>/dev/null) | sha256sum | cut -c1-16)
built=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "set-backend.inputs"}}' "$tag" 2>/dev/null || true)
if [ "$built" = "$inputs" ] && [ -s "$out/set-backend-image.tar" ]; then
  echo "make image: $tag and $out/set-backend-image.tar are up to date"
  exit 0
fi

base=$(packaging/image/base.sh)

# Node.js: the package this machine's node comes from, repacked once per version.
if [ -z "$node_pkg" ]; then
  echo "make image: $node_bin belongs to no Debian package; the image takes Node.js from one (NodeSource's nodejs, >= 20)" >&2
  exit 1
fi
node_version=$(dpkg-query -W -f='${Version}' "$node_pkg")
node_deb=$cache/node/${node_pkg}_${node_version}_amd64.deb
if [ ! -s "$node_deb" ]; then
  echo "make image: repacking $node_pkg $node_version (once; cached in $cache/node)" >&2
  mkdir -p "$cache/node"
  tmp=$(mktemp -d "$cache/node/repack.XXXXXX")
  # Compressed lightly: it is unpacked once, into the image (xz would take minutes).
  (cd "$tmp" && DPKG_DEB_COMPRESSOR_TYPE=gzip DPKG_DEB_COMPRESSOR_LEVEL=1 dpkg-repack "$node_pkg" >/dev/null 2>"$tmp/log") ||
    { cat "$tmp/log" >&2; exit 1; }
  mv "$tmp"/*.deb "$node_deb"
  rm -rf "$tmp"
fi

rm -rf "$out"
mkdir -p "$out"
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah add "$ctr" "$base" / >/dev/null
buildah copy "$ctr" "$node_deb" "${debs[@]}" /tmp/debs/ >/dev/null
# npm, headers and docs stay out (node alone runs the API; python3, which
# NodeSource's package wants for npm's native builds, is not needed either).
# The cached base is a release snapshot: security and point-release updates are
# applied at every build (the module's nginx-abi dependency stops the build if
# they ever change nginx's ABI).
buildah run --isolation chroot "$ctr" -- sh -euc '
  mirror=$(sed -n "s/^deb \([^ ]*\) bookworm main$/\1/p" /etc/apt/sources.list)
  printf "deb %s bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n" "$mirror" >>/etc/apt/sources.list
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq >/dev/null
  dpkg --path-exclude="/usr/share/doc/*" --path-include="/usr/share/doc/*/copyright" \
       --path-exclude="/usr/share/man/*" --path-exclude="/usr/include/*" \
       --path-exclude="/usr/lib/node_modules/*" --path-exclude="/usr/bin/npm" --path-exclude="/usr/bin/npx" \
       --path-exclude="/usr/bin/corepack" \
       --ignore-depends=python3 -i /tmp/debs/nodejs_*.deb
  dpkg -i /tmp/debs/libnginx-mod-http-set-backend_*.deb /tmp/debs/set-backend-api_*.deb
  rm -rf /tmp/debs /var/cache/apt/* /var/lib/apt/lists/* /var/log/*.log /etc/nginx/sites-enabled/default
  node --version >/dev/null
'
buildah config \
  --entrypoint '["/usr/bin/node", "/usr/lib/set-backend-api/scripts/run.js"]' --cmd '' \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env STATE_DIR=/var/lib/set-backend \
  --env PORT=80 \
  --env DOMAIN=localhost \
  --env SET_BACKEND_MODULE=/usr/lib/nginx/modules/ngx_http_set_backend.so \
  --env SET_BACKEND_FILTER=/usr/share/set-backend/resolver.wasm \
  --volume /var/lib/set-backend \
  --port 80 \
  --stop-signal SIGTERM \
  --workingdir / \
  --label org.opencontainers.image.title=set-backend \
  --label org.opencontainers.image.version="$version" \
  --label set-backend.inputs="$inputs" \
  "$ctr"
previous=$(buildah inspect --type image --format '{{.FromImageID}}' "$tag" 2>/dev/null || true)
buildah commit --quiet --rm "$ctr" "$tag" >/dev/null
trap - EXIT
# The image this build replaces would be left untagged: it goes (unless a container still uses it).
if [ -n "$previous" ]; then buildah rmi "$previous" >/dev/null 2>&1 || true; fi
buildah push --quiet "$tag" "docker-archive:$out/set-backend-image.tar:$tag"
echo "make image: $tag in buildah's storage, $out/set-backend-image.tar ($(du -h "$out/set-backend-image.tar" | cut -f1))"
