#!/usr/bin/env bash
# Prepare a configured copy of Debian's nginx source tree in build/nginx.
#
# Why: the ngx crate generates its bindings from a *configured* nginx tree
# (NGINX_BUILD_DIR=build/nginx/objs), and a dynamic module only loads into
# Debian's /usr/sbin/nginx when it was compiled against the same version and
# the same configure flags. nginx-dev ships exactly that: the source headers,
# the configure script and conf_flags in /usr/share/nginx/src.
#
# Idempotent: packages are installed only when missing, and the tree is
# reconfigured only when the installed nginx-dev differs from the one it was
# configured from. A second run takes well under a second.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tree="${NGINX_TREE:-$root/build/nginx}"
packages=(nginx nginx-dev libpcre2-dev libssl-dev zlib1g-dev libclang-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "nginx-build-tree: missing packages: ${missing[*]} (run as root or install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Only refresh the package lists when they are absent or cannot satisfy us.
  if ! apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

src=/usr/share/nginx/src
stamp="$tree/.configured-from"
want="$(dpkg-query -W -f='${Version}' nginx-dev)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$tree/objs/ngx_auto_config.h" ]]; then
  exit 0
fi

rm -rf "$tree"
mkdir -p "$(dirname "$tree")"
cp -r "$src" "$tree"
(
  cd "$tree"
  # conf_flags defines NGX_CONF_FLAGS: the exact flags Debian built nginx with.
  # shellcheck disable=SC1091
  . ./conf_flags
  ./configure "${NGX_CONF_FLAGS[@]}" >configure.log 2>&1 || { tail -30 configure.log >&2; exit 1; }
)
echo "$want" >"$stamp"
echo "nginx-build-tree: configured $tree for nginx-dev $want"
