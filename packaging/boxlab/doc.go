// Package boxlab is a test helper used by end-to-end tests and benchmarks of EC2, EBS and
// networking: a lab of N Banyan boxes on one machine, each box a network namespace plus a
// private mount namespace with its own virtlogd, libvirtd and real `banyan server`, the
// boxes joined by veth pairs to a bridge in a "LAN" namespace. It needs root, iproute2 and
// util-linux (nsenter, unshare), and libvirt unless Config.NoLibvirt.
//
//	lab := boxlab.Start(t, boxlab.Config{Boxes: 3, Banyan: bin}) // Close at t.Cleanup
//	b := lab.Box(1)
//	s3.New(s3.Options{BaseEndpoint: aws.String(b.Endpoint()), HTTPClient: lab.HTTPClient(), ...})
//	out, err := lab.AWS(ctx, b, "ec2", "describe-instances") // the aws CLI, from the LAN
//	b.Kill(); b.Restart(); lab.WaitReady(ctx)
//	b.Unplug(); b.Plug(); b.Pause(); b.Resume()
//	names, err := lab.Domains(b) // its libvirtd's domains
//
// Lab l (an id from 100 to 254, allocated through /run/boxlab/<l>.json, which records the
// owning process, the lab folder and the holders) uses the subnet 10.<l>.0.0/24: box i is
// the namespace bny<l>-<i> with eth0 = 10.<l>.0.<i+1>, default route via the LAN's bridge
// br0 = 10.<l>.0.254 in namespace bny<l>-lan, where the box's veth peer is named box<i>.
// Nothing of the lab lives in the host's network namespace, and the lab adds no iptables
// or nft rules (a box's own server may add some inside the box).
//
// A box's mount namespace is held by a "holder" process (sleep) started as
// `ip netns exec NS unshare -m --propagation private sh -c ...`; every process of the box
// (libvirtd, banyan, Exec) enters both namespaces with `nsenter -t HOLDER -n -m`. Inside
// it the copy of the host's /run/netns is unmounted (it would keep every other namespace
// alive as long as the box), /run is a fresh tmpfs (pid files, locks), and these box
// folders are bind-mounted:
//
//	DIR/bI/run-libvirt -> /run/libvirt  (libvirtd's sockets: the host reaches them here)
//	DIR/bI/lib         -> /var/lib/libvirt
//	DIR/bI/log         -> /var/log/libvirt  (libvirtd.log, virtlogd.log, domain logs)
//	DIR/bI/cache       -> /var/cache/libvirt
//	DIR/bI/etc         -> /etc/libvirt  (a copy of the host's, network autostart removed)
//
// so each box's libvirtd has its own state and the host's own libvirtd is not touched.
// Box 0's libvirtd probes qemu's capabilities (seconds under TCG); the other boxes start
// from a copy of its cache. Every mount lives only in the box's namespace and goes away
// with its last process. /sys inside a box is the box's own sysfs (ip netns exec), without
// cgroup mounts, so libvirtd runs its domains without cgroups and leaves none behind.
//
// Box 0's server founds the cluster (`banyan server --name box0 --bind 10.<l>.0.1
// --data-dir DIR/b0/data --compute on --accel tcg`, then Config.ServerArgs); the others
// join it with the token it writes. DIR/bI/server.log holds each server's output. New and
// Start return once, seen from every box, every box is an alive voter, all agree on the
// leader and see every box's disks, and every box's AWS API answers (WaitReady); the
// admin's access key (Credentials) is the one the founding box wrote for the aws CLI.
//
// The host reaches a box only through the lab: Exec/Command run a program inside a box
// (or ExecLAN inside the LAN namespace, which reaches every box like another machine on
// the LAN), and Dial/HTTPClient dial from inside a namespace (an OS thread that setns()es
// into it, creates the socket and then dies).
//
// Close (registered with t.Cleanup by Start, which first logs the end of every server
// log when the test failed) kills the servers, destroys and undefines every domain of
// every box's libvirtd, kills every process left in the lab's namespaces, deletes the
// namespaces (and with them the veths) and removes the lab folder and record. The lab's
// processes do not die with a crashed owner (libvirtd daemonizes): Start first sweeps the
// leftovers of labs whose owning process died (a crashed or timed-out test run), and
// `packaging/boxlab.sh down` removes every lab. The command boxlab (packaging/boxlab.sh)
// runs the same lab for a person at a shell.
package boxlab
