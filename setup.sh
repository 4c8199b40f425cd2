#!/usr/bin/env bash
# Sets up whatever is missing on a Debian machine (as root), then runs what
# you ask for:
#   ./setup.sh demo    a 5-gateway community with three apps, until Ctrl-C (the main job)
#   ./setup.sh test    run the whole test suite (what CI runs)
#   ./setup.sh         set up only
# Idempotent: a second run installs nothing and only rebuilds.
set -euo pipefail
cd "$(dirname "$0")"

packages=(lxc serf busybox-static debootstrap debian-archive-keyring e2fsprogs mount iproute2 nftables iputils-ping uidmap bsdutils psmisc openssh-client wireguard-go wireguard-tools chromium transmission-cli)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh must run as root (it installs packages and runs containers)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "hearth needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# Unprivileged containers map root to this range (hearth init does the same).
for f in /etc/subuid /etc/subgid; do
  grep -qE '^root:100000:65536$' "$f" 2>/dev/null || echo 'root:100000:65536' >> "$f"
done

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
say "building"
npm run --silent build

# The hearth command, for this clone. A 1 MB young generation halves an
# agent's private memory (AGENT_NODE_FLAGS in src/testbed/gateway-process.ts).
wrapper="#!/bin/sh
exec node --max-semi-space-size=1 \"$PWD/dist/src/cli/main.js\" \"\$@\""
if [ "$(cat /usr/local/bin/hearth 2>/dev/null)" != "$wrapper" ]; then
  say "putting hearth on the PATH (/usr/local/bin/hearth, for $PWD)"
  printf '%s\n' "$wrapper" > /usr/local/bin/hearth
  chmod 755 /usr/local/bin/hearth
fi

case "${1:-}" in
  demo) say "starting the demo: 5 gateways, three apps (Ctrl-C removes it all)"; exec hearth demo ;;
  test) say "running the whole test suite"; exec npm test ;;
  "") say "set up; ./setup.sh demo or ./setup.sh test next" ;;
  *) echo "usage: ./setup.sh [demo|test]" >&2; exit 2 ;;
esac
