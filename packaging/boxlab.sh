#!/usr/bin/env bash
# The box lab for a person at a shell (package packaging/boxlab): N Banyan boxes on this
# machine, each a network + mount namespace with its own libvirtd and real `banyan server`,
# on a bridge in a LAN namespace. Needs root, and the packages of deps.sh.
#
#   packaging/boxlab.sh up [N] [-no-libvirt] [-f] [-- SERVER-FLAG...]   start a lab (3 boxes), print how to reach it
#   packaging/boxlab.sh down [ID...]                                      stop labs (all, and every leftover, without ids)
#   packaging/boxlab.sh list                                              the labs and their owners
#   packaging/boxlab.sh shell ID BOX|lan [COMMAND...]                     a shell or command inside a box or the LAN
#
# up returns once the lab is ready and leaves it running in a background process (-f: in
# the foreground until ^C). It builds ./cmd/banyan for the boxes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "boxlab.sh: needs root (network and mount namespaces)" >&2
	exit 1
fi
command -v go >/dev/null 2>&1 || export PATH="/usr/local/go/bin:$PATH"
args=("$@")
# `up 5` is `up -n 5`.
if [ "${1:-}" = up ] && [[ "${2:-}" =~ ^[0-9]+$ ]]; then
	args=(up -n "$2" "${@:3}")
fi
exec go run ./packaging/boxlab/cmd/boxlab "${args[@]}"
