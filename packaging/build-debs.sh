#!/usr/bin/env bash
# `make deb`: the two Debian packages, built with dpkg-deb from what `make build`
# produced, into build/deb/:
#   libnginx-mod-http-set-backend  the module (for this nginx ABI), the filter, a load_module snippet
#   set-backend-api                the route API as JavaScript, its npm packages, a systemd unit
# Then lintian checks both (its remaining tags are explained in docs/deploy.md).
# DEB_VERSION overrides the version (default: package.json's version, Debian revision 1).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
here=packaging
out=build/deb
stage=$out/stage
module=build/modules/ngx_http_set_backend.so
precompiler=build/modules/proxy-wasm-precompile
filter=build/resolver.wasm
maintainer="${DEBFULLNAME:-set-backend maintainers} <${DEBEMAIL:-set-backend@localhost}>"
version=${DEB_VERSION:-$(node -p 'require("./package.json").version')-1}

for f in "$module" "$precompiler" "$filter"; do
  [ -s "$f" ] || { echo "make deb: $f is missing (make build makes it)" >&2; exit 1; }
done

# The module loads only into the nginx it was built against: depend on that
# build's ABI, which Debian's nginx package provides (nginx-abi-1.22.1-7).
nginx_abi=$(dpkg-query -W -f='${Provides}' nginx | tr ',' '\n' | grep -o 'nginx-abi-[^ ]*' || true)
[ -n "$nginx_abi" ] || { echo "make deb: the installed nginx provides no nginx-abi-* (is Debian's nginx installed?)" >&2; exit 1; }

# Nothing to do when every input is the one the packages in build/deb were built from.
inputs=$( {
  printf '%s\n' "$version" "$maintainer" "$nginx_abi"
  find "$module" "$precompiler" "$filter" package.json package-lock.json tsconfig.json api/tsconfig.build.json api/src api/ui cli \
    scripts/run.ts scripts/restarter.ts scripts/nginx-conf.ts scripts/runtime-dir.ts nginx/nginx.conf.template nginx/pages \
    nginx/README.md docs/deploy.md docs/configuration.md docs/fleet.md "$here" -path "$here/image" -prune -o -type f -print0 |
    sort -z | xargs -0 sha256sum
} | sha256sum | cut -c1-16)
debs=("$out/libnginx-mod-http-set-backend_${version}_amd64.deb" "$out/set-backend-api_${version}_amd64.deb")
if [ "$(cat "$out/inputs" 2>/dev/null)" = "$inputs" ] && [ -s "${debs[0]}" ] && [ -s "${debs[1]}" ]; then
  echo "make deb: ${debs[*]} are up to date"
  exit 0
fi

rm -rf "$stage" "$out"
mkdir -p "$stage"
umask 022

# Shared-library dependencies, as dpkg-shlibdeps finds them (it wants a debian/control).
shlibs() {
  local tmp
  tmp=$(mktemp -d)
  mkdir "$tmp/debian"
  printf 'Source: set-backend\n\nPackage: x\nArchitecture: any\n' >"$tmp/debian/control"
  local files
  files=$(realpath "$@")
  # shellcheck disable=SC2086 # one path per word, no spaces in them
  (cd "$tmp" && dpkg-shlibdeps -O $files 2>>"$root/$out/shlibdeps.log") | sed -n 's/^shlibs:Depends=//p'
  rm -rf "$tmp"
}

# Common parts of a binary package: docs, changelog, control, md5sums.
finish() {
  local name=$1 dir=$stage/$1
  install -d "$dir/usr/share/doc/$name"
  install -m 0644 "$here/copyright" "$dir/usr/share/doc/$name/copyright"
  printf '%s (%s) unstable; urgency=medium\n\n  * Built from the set-backend repository.\n\n -- %s  %s\n' \
    "$name" "$version" "$maintainer" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" |
    gzip -9n >"$dir/usr/share/doc/$name/changelog.Debian.gz"
  install -d "$dir/DEBIAN"
  for script in postinst prerm postrm triggers conffiles; do
    if [ -f "$here/$name/$script" ]; then
      local mode=0644
      [ -x "$here/$name/$script" ] && mode=0755
      install -m "$mode" "$here/$name/$script" "$dir/DEBIAN/$script"
    fi
  done
  local size
  size=$(du -sk --exclude=DEBIAN "$dir" | cut -f1)
  sed -e "s/@VERSION@/$version/" -e "s/@INSTALLED_SIZE@/$size/" -e "s/@NGINX_ABI@/$nginx_abi/" -e "s/@SHLIBS@/$2/" -e "s|@MAINTAINER@|$maintainer|" \
    "$here/$name/control.in" >"$dir/DEBIAN/control"
  (cd "$dir" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
  chmod 0644 "$dir/DEBIAN/md5sums"
  dpkg-deb --root-owner-group -Zxz --build "$dir" "$out/${name}_${version}_amd64.deb" >/dev/null
  echo "make deb: $out/${name}_${version}_amd64.deb ($(du -h "$out/${name}_${version}_amd64.deb" | cut -f1))"
}

# --- libnginx-mod-http-set-backend
m=$stage/libnginx-mod-http-set-backend
install -d "$m/usr/lib/nginx/modules" "$m/usr/libexec/set-backend" "$m/usr/share/nginx/modules-available" "$m/usr/share/set-backend" \
  "$m/usr/share/doc/libnginx-mod-http-set-backend/examples"
# Symbols are for debugging the build tree; the package ships the stripped module.
strip --strip-unneeded -o "$m/usr/lib/nginx/modules/ngx_http_set_backend.so" "$module"
chmod 0644 "$m/usr/lib/nginx/modules/ngx_http_set_backend.so"
# The filter compiled to this machine's native code by the same wasmtime: the
# image's supervisor (scripts/run.ts) runs it at start so workers need not compile.
strip --strip-unneeded -o "$m/usr/libexec/set-backend/proxy-wasm-precompile" "$precompiler"
chmod 0755 "$m/usr/libexec/set-backend/proxy-wasm-precompile"
install -m 0644 "$filter" "$m/usr/share/set-backend/resolver.wasm"
install -m 0644 "$here/libnginx-mod-http-set-backend/mod-http-set-backend.conf" "$m/usr/share/nginx/modules-available/"
install -m 0644 "$here/libnginx-mod-http-set-backend/set-backend.conf" "$m/usr/share/doc/libnginx-mod-http-set-backend/examples/"
install -m 0644 nginx/README.md "$m/usr/share/doc/libnginx-mod-http-set-backend/README.md"
finish libnginx-mod-http-set-backend "$(shlibs "$m/usr/lib/nginx/modules/ngx_http_set_backend.so" "$m/usr/libexec/set-backend/proxy-wasm-precompile")"

# --- set-backend-api
a=$stage/set-backend-api
lib=$a/usr/lib/set-backend-api
rm -rf build/js
npx tsc -p api/tsconfig.build.json
install -d "$lib" "$a/usr/bin" "$a/etc/default" "$a/lib/systemd/system" "$a/usr/share/doc/set-backend-api"
cp -r build/js/api build/js/cli build/js/scripts "$lib/"
# The worker threads' entry files load tsx in the clone; compiled, they load the JavaScript.
for boot in import-worker-boot etcd-import-worker-boot; do
  printf '// Compiled tree: the worker is JavaScript already.\nawait import("./%s.js");\n' "${boot%-boot}" >"$lib/api/src/$boot.js"
done
cp -r api/ui "$lib/api/ui"
# The supervisor (scripts/run.js, the image's entrypoint) renders nginx's configuration from these.
install -d "$lib/nginx"
cp -r nginx/nginx.conf.template nginx/pages "$lib/nginx/"
# "type": "module" and the version the CLI prints.
node -e 'const p = require("./package.json"); process.stdout.write(JSON.stringify({ name: p.name, version: p.version, private: true, type: "module", engines: p.engines }, null, 2) + "\n")' >"$lib/package.json"
node --import=tsx packaging/prod-modules.ts "$lib"
# npm packages carry sources, tests, docs and tooling the service never reads; their licenses stay.
nm=$lib/node_modules
find "$nm" -type f \( \( -name '*.md' ! -iname 'license*' \) -o -name '*.ts' -o -name '*.map' -o -name '*.c' -o -name '*.cc' \
  -o -name '*.h' -o -name '*.gyp' -o -name '*.html' -o -name '*.sh' -o -name '.*' \) -delete
find "$nm" -depth -type d \( -name test -o -name tests -o -name example -o -name examples -o -name '.*' \) -exec rm -rf {} +
# Native addons: glibc x86-64 only (the musl builds are for Alpine), stripped.
find "$nm" -name '*.node' \( -name '*musl*' -o ! -path '*linux-x64*' \) -delete
find "$nm" -name '*.node' -exec strip --strip-unneeded {} +
find "$lib" -type d -exec chmod 0755 {} + && find "$lib" -type f -exec chmod 0644 {} +
# npm's bin scripts keep their executable bit.
find "$nm" -type f -name '*.js' -exec sh -c 'for f; do [ "$(head -c2 "$f")" = "#!" ] && chmod 0755 "$f"; done; true' sh {} +
install -m 0755 "$here/set-backend-api/set-backend" "$a/usr/bin/set-backend"
install -m 0600 "$here/set-backend-api/default" "$a/etc/default/set-backend-api"
install -m 0644 "$here/set-backend-api/set-backend-api.service" "$a/lib/systemd/system/set-backend-api.service"
for doc in docs/deploy.md docs/configuration.md docs/fleet.md; do
  [ -f "$doc" ] && install -m 0644 "$doc" "$a/usr/share/doc/set-backend-api/"
done
finish set-backend-api "$(shlibs $(find "$lib/node_modules" -name '*.node'))"

if command -v lintian >/dev/null; then
  lintian --tag-display-limit 0 "$out"/libnginx-mod-http-set-backend_"$version"_amd64.deb "$out"/set-backend-api_"$version"_amd64.deb \
    >"$out/lintian.txt" 2>&1 || true
  echo "make deb: lintian: $(grep -c '^E:' "$out/lintian.txt" || true) errors, $(grep -c '^W:' "$out/lintian.txt" || true) warnings ($out/lintian.txt)"
fi
rm -rf "$stage"
echo "$inputs" >"$out/inputs"
