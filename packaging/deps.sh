#!/usr/bin/env bash
# Installs what Banyan needs on a Debian machine, only where it is missing. Sourced by
# run.sh and test.sh so that both work on a fresh box.
set -euo pipefail

# Debian packages the server and its tests use at run time.
BANYAN_APT_PACKAGES=(ca-certificates iptables iproute2 curl python3)
# The hypervisor: libvirtd + qemu (TCG where there is no usable KVM), and the headers the
# cgo binding libvirt.org/go/libvirt builds against.
BANYAN_APT_PACKAGES+=(libvirt-daemon-system qemu-system-x86 qemu-utils libvirt-dev pkg-config gcc)
# packaging/guest/build-guest-image.sh: busybox initramfs, FAT disk with syslinux, no loop mounts.
BANYAN_APT_PACKAGES+=(busybox-static cpio mtools syslinux syslinux-common)

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
