#!/usr/bin/env bash
# provision.sh installs what nslab needs on a Debian or Ubuntu machine: the
# Debian packages the labs use, and Go at the version go.mod pins (the one
# place the version is written). It is idempotent and quick when everything
# is there already. It must run as root.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "provision.sh: run me as root (for example: sudo bash scripts/provision.sh)" >&2
  exit 1
fi
here=$(cd "$(dirname "$0")/.." && pwd)

# Debian packages: each tool the labs or the engine call, and where it comes from.
packages=(
  iproute2        # ip, ip netns, ip monitor
  iptables        # iptables-save, iptables-restore
  util-linux      # nsenter, unshare
  busybox-static  # the busybox and mysql stand-in images (nc is the stand-in's listener)
  nginx-light     # the multitool image's web server, as in wbitt/network-multitool
  curl            # the multitool's curl
  dnsutils        # dig
  iputils-ping    # ping
  bridge-utils    # brctl
  net-tools       # netstat
  procps          # ps
  tmux            # the shell test drives nslab shell in a real terminal
  graphviz        # nslab topology --format svg|png
  dnsmasq-base    # dnsmasq, the DNS benchmark's comparison peer
  dnsperf         # the DNS benchmark's client
  tcpdump         # the overlay lab captures VXLAN on the underlay
  ca-certificates # module downloads
  git
)
# NSLAB_WITH_DOCKER=1 also installs Debian's Docker Engine (docker.io: dockerd,
# containerd, runc, the docker CLI), the referee the labs run against with
# --engine docker (NSLAB_ENGINE=docker). nslab runs it only inside lab hosts;
# the install must not start a Docker daemon on the machine (see below).
if [ "${NSLAB_WITH_DOCKER:-}" = 1 ]; then
  packages+=(docker.io)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "provision.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # While installing, refuse every service start (policy-rc.d exit 101): a
  # docker.io install would otherwise start the machine's own dockerd.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$policy" ]; then rm -f "$policy"; fi
fi

# Go: the version in go.mod's go directive.
want=$(awk '$1 == "go" { print $2; exit }' "$here/go.mod")
export PATH="/usr/local/go/bin:$PATH"
have=$(go env GOVERSION 2>/dev/null | sed 's/^go//' || true)
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
if [ -n "$have" ] && version_ge "$have" "$want"; then
  exit 0
fi
echo "provision.sh: installing Go $want (found: ${have:-none})"
arch=$(dpkg --print-architecture)
# The Go toolchain is published as a module (golang.org/toolchain) on the Go
# module proxy. A Go older than 1.21 cannot switch toolchains by itself, but
# any Go can download a module: bootstrap with Debian's golang-go, fetch the
# pinned toolchain through the module proxy, and install it in /usr/local/go.
if ! command -v go >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends golang-go >/dev/null
fi
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
mod="golang.org/toolchain@v0.0.1-go${want}.linux-${arch}"
dir=$(cd "$tmp" && GOFLAGS=-modcacherw GOMODCACHE="$tmp/mod" GO111MODULE=on \
  /usr/bin/env go mod download -json "$mod" | awk -F'"' '$2 == "Dir" { print $4 }')
if [ -z "$dir" ] || [ ! -f "$dir/bin/go" ]; then
  echo "provision.sh: could not download $mod" >&2
  exit 1
fi
rm -rf /usr/local/go.new
cp -a "$dir" /usr/local/go.new
chmod -R a+rX /usr/local/go.new
chmod a+x /usr/local/go.new/bin/* /usr/local/go.new/pkg/tool/*/*
rm -rf /usr/local/go
mv /usr/local/go.new /usr/local/go
/usr/local/go/bin/go version
