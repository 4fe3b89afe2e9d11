#!/usr/bin/env bash
# Installs what Banyan needs on a Debian machine, only where it is missing. Sourced by
# run.sh and test.sh so that both work on a fresh box.
set -euo pipefail

# Debian packages the server and its tests use at run time.
BANYAN_APT_PACKAGES=(ca-certificates iptables iproute2 curl python3)

banyan_install_deps() {
	local missing=()
	for p in "${BANYAN_APT_PACKAGES[@]}"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "installing: ${missing[*]}"
		local sudo=""
		[ "$(id -u)" -ne 0 ] && sudo=sudo
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
	if ! command -v go >/dev/null 2>&1; then
		if [ -x /usr/local/go/bin/go ]; then
			export PATH="/usr/local/go/bin:$PATH"
		else
			echo "Go $(sed -n 's/^go //p' "$(dirname "${BASH_SOURCE[0]}")/../go.mod") or newer is needed: https://go.dev/dl/" >&2
			exit 1
		fi
	fi
}
