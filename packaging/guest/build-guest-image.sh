#!/usr/bin/env bash
# Builds the Banyan test guest: Debian's cloud kernel and a busybox-static initramfs (both taken
# from Debian packages) on a raw MBR disk with one FAT partition booted by syslinux, made
# without loop mounts (mtools writes the FAT, syslinux installs itself through mtools).
# It boots under qemu TCG in a few seconds, talks to the EC2 metadata service and reports on
# the serial console; see init beside this script.
#
#   packaging/guest/build-guest-image.sh OUT_DIR
#
# Writes OUT_DIR/banyan-guest.raw, OUT_DIR/banyan-guest.qcow2, and the pieces for a direct
# kernel boot: OUT_DIR/vmlinuz, OUT_DIR/initrd.img, OUT_DIR/cmdline. Idempotent: the .debs are
# cached in OUT_DIR/debs and nothing is rebuilt while the inputs are unchanged.
# Needs (packaging/deps.sh): busybox-static cpio mtools syslinux syslinux-common qemu-utils.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: build-guest-image.sh OUT_DIR}
mkdir -p "$out/debs"
out=$(cd "$out" && pwd)

# Kernel command line. console=ttyS0 is what libvirt logs; panic=-1 reboots on a panic.
cmdline="console=ttyS0,115200 panic=-1 quiet mitigations=off cryptomgr.notests tsc=reliable no_timer_check"
# Modules the guest loads (with their dependencies) when the kernel has them as modules.
modules=(virtio_pci virtio_blk virtio_net button evdev)
disk_mib=64 # whole disk; the FAT partition starts at 1 MiB

exec 9>"$out/.lock"
flock 9

log() { echo "build-guest-image: $*" >&2; }

# deb NAME: the cached .deb of package NAME (downloaded when missing).
deb() {
	local f
	f=$(ls "$out/debs/$1"_*.deb 2>/dev/null | sort -V | tail -n1 || true)
	if [ -z "$f" ]; then
		log "downloading $1"
		(cd "$out/debs" && apt-get download -q -o APT::Sandbox::User=root "$1" >/dev/null) || return 1
		f=$(ls "$out/debs/$1"_*.deb | sort -V | tail -n1)
	fi
	echo "$f"
}

# The kernel: Debian's linux-image-cloud-amd64 names the versioned package to take.
kdeb=$(ls "$out/debs"/linux-image-*-cloud-amd64_*.deb 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$kdeb" ]; then
	kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n1)
	if [ -z "$kpkg" ] && [ "$(id -u)" -eq 0 ]; then
		apt-get update -qq && kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n1)
	fi
	[ -n "$kpkg" ] && kdeb=$(deb "$kpkg" || true)
fi
kboot="" # an installed cloud kernel, when no .deb could be had
if [ -z "$kdeb" ]; then
	kboot=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n1 || true)
	[ -n "$kboot" ] || { log "no linux-image-*-cloud-amd64 .deb and none in /boot"; exit 1; }
fi
bdeb=$(deb busybox-static || true)
if [ -z "$bdeb" ] && ! dpkg -s busybox-static >/dev/null 2>&1; then
	log "no busybox-static .deb and the package is not installed"
	exit 1
fi

stamp=$(
	cat "$0" "$here/init" "$here/udhcpc.script" "$here/acpi-power-button" "$here/syslinux.cfg"
	echo "$cmdline ${modules[*]} $disk_mib"
	basename "${kdeb:-$kboot}"
	basename "${bdeb:-installed-busybox-static}"
	dpkg-query -W -f '${Version}' syslinux 2>/dev/null || true
)
stamp=$(echo "$stamp" | sha256sum | cut -d' ' -f1)
if [ -f "$out/banyan-guest.stamp" ] && [ "$(cat "$out/banyan-guest.stamp")" = "$stamp" ] &&
	[ -f "$out/banyan-guest.raw" ] && [ -f "$out/banyan-guest.qcow2" ]; then
	echo "$out/banyan-guest.raw"
	exit 0
fi

work=$(mktemp -d "$out/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,root,etc/acpi/PWRF,lib/modules}

# Kernel and its module tree.
if [ -n "$kdeb" ]; then
	log "kernel from $(basename "$kdeb")"
	dpkg-deb -x "$kdeb" "$work/k"
	vmlinuz=$(ls "$work"/k/boot/vmlinuz-* | head -n1)
	kver=${vmlinuz##*/vmlinuz-}
	kmod=$work/k/lib/modules/$kver
else
	log "kernel from $kboot"
	vmlinuz=$kboot
	kver=${kboot##*/vmlinuz-}
	kmod=/lib/modules/$kver
fi

# busybox-static and a link for each of its applets.
if [ -n "$bdeb" ]; then
	dpkg-deb -x "$bdeb" "$work/b"
	cp "$work/b/bin/busybox" "$root/bin/busybox"
else
	cp /bin/busybox "$root/bin/busybox"
fi
for a in $("$root/bin/busybox" --list-full); do
	[ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
done

# Modules in dependency order: a module's depends= (in its .modinfo) comes before it.
declare -A seen=()
order=()
modfile() { find "$kmod/kernel" \( -name "$1.ko*" -o -name "${1//_/-}.ko*" \) -print -quit; }
add_module() {
	local m=$1 f d
	[ -n "${seen[$m]:-}" ] && return 0
	seen[$m]=1
	grep -qE "/${m}\.ko|/${m//_/-}\.ko" "$kmod/modules.builtin" 2>/dev/null && return 0
	f=$(modfile "$m")
	[ -n "$f" ] || { log "module $m not found, skipped"; return 0; }
	case "$f" in
	*.ko) cp "$f" "$root/lib/modules/$m.ko" ;;
	*.ko.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
	*.ko.zst) zstd -qdc "$f" >"$root/lib/modules/$m.ko" ;;
	*.ko.gz) gzip -dc "$f" >"$root/lib/modules/$m.ko" ;;
	esac
	for d in $(tr '\0' '\n' <"$root/lib/modules/$m.ko" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' '); do
		add_module "$d"
	done
	order+=("$m.ko")
}
for m in "${modules[@]}"; do add_module "$m"; done
printf '%s\n' "${order[@]}" >"$root/etc/modules.order"
log "modules: ${order[*]}"

install -m 0755 "$here/init" "$root/init"
install -m 0755 "$here/udhcpc.script" "$root/etc/udhcpc.script"
install -m 0755 "$here/acpi-power-button" "$root/etc/acpi/PWRF/00000080"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
: >"$root/etc/resolv.conf"

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -n -6 >"$work/initrd.img"
cp "$vmlinuz" "$work/vmlinuz"
sed "s|@CMDLINE@|$cmdline|" "$here/syslinux.cfg" >"$work/syslinux.cfg"

# The disk: syslinux's MBR, one active FAT16 (LBA) partition from 1 MiB to the end.
img=$work/banyan-guest.raw
start=2048
sectors=$((disk_mib * 2048 - start))
truncate -s "${disk_mib}M" "$img"
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$img" bs=440 count=1 conv=notrunc status=none
le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $((($1 >> 8) & 255)))\\x$(printf %02x $((($1 >> 16) & 255)))\\x$(printf %02x $((($1 >> 24) & 255)))"; }
{
	printf '\x80\xfe\xff\xff\x0e\xfe\xff\xff' # active, CHS unused (LBA), type 0x0e FAT16 LBA
	le32 $start
	le32 $sectors
} | dd of="$img" bs=1 seek=446 conv=notrunc status=none
printf '\x55\xaa' | dd of="$img" bs=1 seek=510 conv=notrunc status=none
part="$img@@$((start * 512))"
export MTOOLS_SKIP_CHECK=1
mformat -i "$part" -T "$sectors" -h 64 -s 32 -H "$start" -v BANYAN ::
mcopy -i "$part" "$work/vmlinuz" "$work/initrd.img" "$work/syslinux.cfg" ::
syslinux --install --offset $((start * 512)) "$img"
qemu-img convert -f raw -O qcow2 "$img" "$work/banyan-guest.qcow2"

echo "$cmdline" >"$work/cmdline"
for f in vmlinuz initrd.img cmdline banyan-guest.raw banyan-guest.qcow2; do
	mv -f "$work/$f" "$out/$f"
done
echo "$stamp" >"$out/banyan-guest.stamp"
log "built $out/banyan-guest.raw ($(du -h --apparent-size "$out/initrd.img" | cut -f1) initramfs, kernel $kver)"
echo "$out/banyan-guest.raw"
