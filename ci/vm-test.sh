#!/usr/bin/env bash
# vm-test.sh runs the labs in a VM, for a CI host that has virtualisation (KVM, or
# VirtualBox). It brings the VM up, which provisions it with scripts/provision.sh; runs
# the README's test command, `bash scripts/test.sh`, inside it as root; saves the
# output in $NSLAB_CI_OUT; removes the VM; and exits with the suite's status.
#
#   bash ci/vm-test.sh [libvirt|virtualbox|lima]
#
# libvirt and virtualbox use the Vagrantfile and its `test` provisioner; lima uses
# ci/lima/nslab.yaml. The default is $VAGRANT_DEFAULT_PROVIDER, else libvirt.
# Environment: NSLAB_CI_OUT, the directory for the logs (default $TMPDIR/nslab-ci);
# NSLAB_KEEP_VM=1 keeps the VM afterwards; NSLAB_BOX and NSLAB_BOX_URL, see the Vagrantfile.
#
# Exit status: the suite's (0 passed, non-zero failed), or 2 when the VM did not come
# up or scripts/provision.sh failed in it, so the suite never ran.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
me=vm-test.sh
provider=${1:-${VAGRANT_DEFAULT_PROVIDER:-libvirt}}
out=${NSLAB_CI_OUT:-${TMPDIR:-/tmp}/nslab-ci}
mkdir -p "$out"
cd "$here"

case "$provider" in
lima)
  tool=limactl
  up() { limactl start --tty=false --name=nslab --set ".param.Repo=\"$here\"" ci/lima/nslab.yaml; }
  suite() { limactl shell --workdir /nslab nslab sudo bash scripts/test.sh; }
  down() { limactl delete -f nslab; }
  ;;
libvirt | virtualbox)
  tool=vagrant
  up() { vagrant up --provider="$provider" --no-color --no-tty; }
  # The Vagrantfile's test provisioner runs `cd /nslab && bash scripts/test.sh` as
  # root; vagrant prefixes each line of its output with the machine's name.
  suite() {
    vagrant provision --provision-with test --no-color --no-tty 2>&1 |
      sed -u -e '/^==> default: /d' -e 's/^    default: //'
  }
  down() { vagrant destroy -f --no-color; }
  ;;
*)
  echo "$me: unknown VM kind '$provider': use libvirt, virtualbox or lima" >&2
  exit 2
  ;;
esac

if ! command -v "$tool" >/dev/null; then
  echo "$me: $tool is not installed; ci/README.md says what a CI host needs" >&2
  exit 2
fi
if [ "${NSLAB_KEEP_VM:-0}" != 1 ]; then
  trap 'echo "$me: removing the VM"; down >"$out/vm-down.log" 2>&1 || true' EXIT
fi

echo "$me: bringing the VM up ($provider); log: $out/vm-up.log"
if ! up 2>&1 | tee "$out/vm-up.log"; then
  echo "$me: the VM did not come up, or scripts/provision.sh failed in it ($provider);" >&2
  echo "$me: the suite did not run. Log: $out/vm-up.log" >&2
  exit 2
fi

echo "$me: running the README's test command in the VM; output: $out/go-test.log"
status=0
suite 2>&1 | tee "$out/go-test.log" || status=$?

# The end of a long log is where the verdict is; repeat the lines that matter.
echo "$me: summary"
grep -E '^(--- FAIL|FAIL|ok|panic:|WARNING: DATA RACE)' "$out/go-test.log" || true
if [ "$status" -eq 0 ]; then
  echo "$me: the suite passed in the VM ($provider)"
else
  echo "$me: the suite FAILED in the VM ($provider), status $status; output: $out/go-test.log" >&2
fi
exit "$status"
