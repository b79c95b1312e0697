#!/usr/bin/env bash
# validate-vm.sh checks the VM definitions on a machine that cannot start a VM (the CI
# machine has no nested virtualisation): `vagrant validate` on the Vagrantfile, and a
# YAML parse of the Lima template. It installs Debian's vagrant package (and its
# vagrant-libvirt plugin, so the libvirt block is validated too) when vagrant is
# missing. .ci/run calls it; run it as root when vagrant is not installed yet.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
me=validate-vm.sh

if ! command -v vagrant >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "$me: vagrant is not installed; run me as root to install Debian's vagrant package" >&2
    exit 1
  fi
  echo "$me: installing Debian's vagrant and vagrant-libvirt packages"
  log=$(mktemp)
  export DEBIAN_FRONTEND=noninteractive
  install=(apt-get install -y -q --no-install-recommends vagrant vagrant-libvirt)
  # Missing or stale package lists are the usual cause of a failure: refresh once, retry.
  if ! "${install[@]}" >"$log" 2>&1 &&
    ! { apt-get update -qq && "${install[@]}"; } >>"$log" 2>&1; then
    cat "$log" >&2
    echo "$me: FAILED to install Debian's vagrant package (apt's output is above)." >&2
    echo "$me: the Vagrantfile was NOT validated. This is an apt or mirror problem, not a" >&2
    echo "$me: Vagrantfile error; CI fails rather than skip the check." >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
fi

# Vagrant keeps per-project state in .vagrant/ next to the Vagrantfile; put it in a
# temporary directory so a check leaves nothing in the checkout.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export VAGRANT_DOTFILE_PATH="$tmp/dot" VAGRANT_CHECKPOINT_DISABLE=1
cd "$here"

# Without a provider installed, plain `vagrant validate` fails with "No usable default
# provider could be found"; --ignore-provider validates everything else, and the Ruby
# of the provider blocks still runs. Once with the defaults, once with every override
# the Vagrantfile reads, so both branches run.
vagrant validate --ignore-provider
NSLAB_BOX=nslab/debian-12 NSLAB_BOX_URL=/nonexistent/debian-12.box \
  NSLAB_VM_CPUS=4 NSLAB_VM_MEMORY=8192 vagrant validate --ignore-provider
# With the vagrant-libvirt plugin, the libvirt block's settings are checked too.
if vagrant plugin list 2>/dev/null | grep -q '^vagrant-libvirt '; then
  VAGRANT_DEFAULT_PROVIDER=libvirt vagrant validate
fi

# No limactl here: parse the Lima template with the Ruby that Debian's vagrant runs on.
if command -v ruby >/dev/null; then
  ruby -ryaml -e 'YAML.safe_load(File.read(ARGV[0]))' ci/lima/nslab.yaml
  echo "$me: the Vagrantfile is valid and ci/lima/nslab.yaml parses"
else
  echo "$me: the Vagrantfile is valid; no ruby here to parse ci/lima/nslab.yaml"
fi
