#!/usr/bin/env bash
# Sourced helper: banyan_start_libvirtd starts virtlogd and libvirtd (daemonized with -d) when
# they are not running, for machines without systemd (CI, the dev box, a lab box), and waits
# until libvirtd's socket answers. It stops nothing. Needs root and the packages of deps.sh.
#
#   source packaging/libvirtd.sh && banyan_start_libvirtd [TIMEOUT_SECONDS]

banyan_libvirtd_socket=/run/libvirt/libvirt-sock

banyan_start_libvirtd() {
	local timeout=${1:-30}
	if [ "$(id -u)" -ne 0 ]; then
		echo "banyan_start_libvirtd: needs root" >&2
		return 1
	fi
	if ! command -v libvirtd >/dev/null 2>&1; then
		echo "banyan_start_libvirtd: libvirtd is not installed (packaging/deps.sh installs it)" >&2
		return 1
	fi
	# Banyan's instance networking (netctl) owns bridges; libvirt's NAT network "default" would
	# put a bridge and a dnsmasq into this namespace, so it never autostarts here.
	if [ -L /etc/libvirt/qemu/networks/autostart/default.xml ]; then
		echo "banyan_start_libvirtd: disabling autostart of libvirt's default network"
		rm -f /etc/libvirt/qemu/networks/autostart/default.xml
	fi
	# pgrep -x matches the process name exactly, so a shell whose command line names the
	# daemon does not count. A daemon that is still exiting (just killed) is waited out and
	# then started again, hence the check inside the loop.
	local i started_logd="" started=""
	for ((i = 0; i < timeout * 10; i++)); do
		if [ -z "$started_logd" ] && ! pgrep -x virtlogd >/dev/null; then
			virtlogd -d || return 1
			started_logd=1
		fi
		if [ -z "$started" ] && ! pgrep -x libvirtd >/dev/null; then
			libvirtd -d || return 1
			started=1
		fi
		if [ -S "$banyan_libvirtd_socket" ] &&
			virsh -q -c qemu:///system version >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	echo "banyan_start_libvirtd: libvirtd did not answer on $banyan_libvirtd_socket within ${timeout}s" >&2
	return 1
}
