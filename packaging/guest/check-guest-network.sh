#!/usr/bin/env bash
# Boots the guest image with a network and checks its DHCP + EC2 metadata path: a network
# namespace of its own (a bridge, a tap for qemu, busybox udhcpd, and a python3 HTTP server
# on 169.254.169.254 that serves an instance ID and a user-data script) holds the whole
# network; nothing is plugged into the host's. Everything it starts is stopped and the
# namespace removed on exit. Run as root:
#
#   packaging/guest/check-guest-network.sh [CACHE_DIR]   # default /var/tmp/banyan-guest-cache
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${1:-/var/tmp/banyan-guest-cache}
img=$("$here/build-guest-image.sh" "$cache")
ns=banyan-guestnet-$$
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
# The daemons below are started with ip netns exec directly (it execs them, so $! is the
# daemon itself and the trap can stop it); nsx is for the set-up commands.
nsx() { ip netns exec "$ns" "$@"; }

ip netns add "$ns"
nsx ip link set lo up
nsx ip link add br0 type bridge
nsx ip addr add 169.254.100.1/24 dev br0
nsx ip addr add 169.254.169.254/32 dev br0
nsx ip link set br0 up
nsx ip tuntap add tap0 mode tap
nsx ip link set tap0 master br0 up

cat >"$work/udhcpd.conf" <<C
start 169.254.100.10
end 169.254.100.20
interface br0
lease_file $work/leases
option subnet 255.255.255.0
option router 169.254.100.1
C
touch "$work/leases"
ip netns exec "$ns" busybox udhcpd -f "$work/udhcpd.conf" >"$work/udhcpd.log" 2>&1 &
pids+=($!)
mkdir -p "$work/www/latest/meta-data"
printf i-0123456789abcdef0 >"$work/www/latest/meta-data/instance-id"
printf '#!/bin/sh\necho "user-data ran on $(hostname)"\n' >"$work/www/latest/user-data"
ip netns exec "$ns" python3 -m http.server --bind 169.254.169.254 --directory "$work/www" 80 >"$work/http.log" 2>&1 &
pids+=($!)

qemu-img create -q -f qcow2 -b "$img" -F raw "$work/root.qcow2"
start=$(date +%s%N)
ip netns exec "$ns" qemu-system-x86_64 -accel tcg -m 256 -nodefaults -nographic -no-user-config \
	-serial "file:$work/console.log" -drive "file=$work/root.qcow2,format=qcow2,if=virtio" \
	-netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0 \
	>"$work/qemu.log" 2>&1 &
pids+=($!)
ok=""
for _ in $(seq 1 600); do
	if grep -q "banyan-guest: user-data-exit" "$work/console.log" 2>/dev/null; then
		ok=1
		break
	fi
	sleep 0.1
done
echo "after $((($(date +%s%N) - start) / 1000000)) ms:"
grep -a "banyan-guest\|user-data ran" "$work/console.log" || true
for want in "banyan-guest: instance-id=i-0123456789abcdef0" "user-data ran on banyan-guest" "banyan-guest: user-data-exit=0"; do
	grep -q "$want" "$work/console.log" || ok=""
done
if [ -z "$ok" ]; then
	echo "FAIL: the guest did not get through DHCP, metadata and user data" >&2
	cat "$work/console.log" "$work/qemu.log" >&2
	exit 1
fi
echo "PASS: DHCP, instance-id and user data"
