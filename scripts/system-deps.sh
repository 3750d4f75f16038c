#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those missing, so that
# `make run` and `make test` work on a fresh Debian 12 machine. Arguments name
# more packages (the benchmarks' tools). nginx and the module's build
# dependencies are installed by scripts/nginx-build-tree.sh.
set -euo pipefail

packages=(curl ca-certificates "$@")

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing Debian packages: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
