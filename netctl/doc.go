// Package netctl owns instance networking on a box: the bridge instance NICs attach to
// (EnsureBridge), the addressing rules every part shares (the zone subnet's router,
// EC2's ip-a-b-c-d host names and region domains, the metadata address), and through
// its subpackages the DHCP server (netctl/dhcp), the instance metadata service
// (netctl/imds) and the DNS server (netctl/dns) that answer on that bridge. Everything here acts in the calling
// thread's network namespace: the box agent runs inside its box's namespace.
package netctl
