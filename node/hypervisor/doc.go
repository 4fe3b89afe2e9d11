// Package hypervisor is this box's hypervisor driver: it runs EC2 instances as libvirt
// domains (qemu, KVM where it really works, TCG where it does not) through a libvirtd
// reached by URI (qemu:///system by default; a box of the test lab has a libvirtd of its
// own, so the URI is configuration).
//
// It owns the domain XML Banyan writes (one persistent domain per instance, named by the
// instance ID, with Banyan's metadata kept in the XML's <metadata> so that a restarted agent
// can adopt the domains it finds), the choice of accelerator (Probe boots a throwaway guest
// under KVM and falls back to TCG), the serial console log that GetConsoleOutput returns, and
// the mapping of libvirt's errors to the sentinels below. It holds no desired state: the
// node agent decides what should run and calls Define/Start/Shutdown/Destroy/Undefine.
//
// Files given to a domain (root disk, console log) must be reachable by libvirt's qemu user
// (libvirt-qemu on Debian): every directory above them needs the search (x) bit for others;
// libvirt relabels the files themselves.
package hypervisor
