package imds

import (
	"encoding/json"
	"net/netip"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/netctl"
)

// vpcCIDR is the default VPC's block, which every zone subnet is part of.
const vpcCIDR = "172.31.0.0/16"

// tree is what one instance sees under a version: leaf paths ("meta-data/instance-id")
// with their values; directories are the prefixes of the leaves, listed by their
// children's names (a directory's name ends in "/"), unless listing holds their text.
type tree struct {
	leaves  map[string]string
	listing map[string]string
}

// identityDocument is /latest/dynamic/instance-identity/document, its fields in AWS's
// order.
type identityDocument struct {
	AccountID               string   `json:"accountId"`
	Architecture            string   `json:"architecture"`
	AvailabilityZone        string   `json:"availabilityZone"`
	BillingProducts         []string `json:"billingProducts"`
	DevpayProductCodes      []string `json:"devpayProductCodes"`
	MarketplaceProductCodes []string `json:"marketplaceProductCodes"`
	ImageID                 string   `json:"imageId"`
	InstanceID              string   `json:"instanceId"`
	InstanceType            string   `json:"instanceType"`
	KernelID                *string  `json:"kernelId"`
	PendingTime             string   `json:"pendingTime"`
	PrivateIP               string   `json:"privateIp"`
	RamdiskID               *string  `json:"ramdiskId"`
	Region                  string   `json:"region"`
	Version                 string   `json:"version"`
}

func architecture() string {
	switch runtime.GOARCH {
	case "arm64":
		return "arm64"
	case "386":
		return "i386"
	}
	return "x86_64"
}

func (s *Server) tree(in *state.Instance) *tree {
	t := &tree{leaves: map[string]string{}, listing: map[string]string{}}
	md := func(path, v string) { t.leaves["meta-data/"+path] = v }

	ip, _ := netip.ParseAddr(in.PrivateIP)
	fqdn := in.PrivateIP
	if ip.IsValid() {
		fqdn = netctl.FQDN(ip, s.cfg.Region)
	}
	md("ami-id", in.ImageID)
	md("ami-launch-index", strconv.Itoa(in.LaunchIndex))
	md("hostname", fqdn)
	md("instance-id", in.ID)
	md("instance-life-cycle", "on-demand")
	md("instance-type", in.InstanceType)
	md("local-hostname", fqdn)
	md("local-ipv4", in.PrivateIP)
	md("placement/availability-zone", in.Zone)
	md("placement/region", s.cfg.Region)
	md("reservation-id", in.ReservationID)
	md("services/domain", "amazonaws.com")
	md("services/partition", "aws")

	if in.MAC != "" {
		mac := strings.ToLower(in.MAC)
		md("mac", mac)
		nic := "network/interfaces/macs/" + mac + "/"
		md(nic+"device-number", "0")
		md(nic+"local-hostname", fqdn)
		md(nic+"local-ipv4s", in.PrivateIP)
		md(nic+"mac", mac)
		md(nic+"owner-id", in.Account)
		if subnet, err := state.ZoneSubnet(in.Zone); err == nil {
			md(nic+"subnet-ipv4-cidr-block", subnet.String())
		}
		md(nic+"vpc-ipv4-cidr-block", vpcCIDR)
		md(nic+"vpc-ipv4-cidr-blocks", vpcCIDR)
	}

	if s.cfg.PublicIP != nil {
		if pub, ok := s.cfg.PublicIP(in.ID); ok && pub.Is4() {
			host := publicHostname(pub, s.cfg.Region)
			md("public-ipv4", pub.String())
			md("public-hostname", host)
			if in.MAC != "" {
				nic := "network/interfaces/macs/" + strings.ToLower(in.MAC) + "/"
				md(nic+"public-ipv4s", pub.String())
				md(nic+"public-hostname", host)
				md(nic+"ipv4-associations/"+pub.String(), in.PrivateIP)
			}
		}
	}

	if in.KeyName != "" && s.cfg.KeyPair != nil {
		if kp, ok := s.cfg.KeyPair(in.Account, in.KeyName); ok && kp.PublicKey != "" {
			md("public-keys/0/openssh-key", kp.PublicKey)
			t.listing["meta-data/public-keys"] = "0=" + in.KeyName
		}
	}

	if s.cfg.Tags && len(in.Tags) > 0 {
		for k, v := range in.Tags {
			if k != "" && !strings.Contains(k, "/") {
				md("tags/instance/"+k, v)
			}
		}
	}

	if len(in.UserData) > 0 {
		t.leaves["user-data"] = string(in.UserData)
	}

	doc := identityDocument{
		AccountID:        in.Account,
		Architecture:     architecture(),
		AvailabilityZone: in.Zone,
		ImageID:          in.ImageID,
		InstanceID:       in.ID,
		InstanceType:     in.InstanceType,
		PendingTime:      in.LaunchTime.UTC().Format("2006-01-02T15:04:05Z"),
		PrivateIP:        in.PrivateIP,
		Region:           s.cfg.Region,
		Version:          "2017-09-30",
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	t.leaves["dynamic/instance-identity/document"] = string(b)
	return t
}

// publicHostname is EC2's public host name of an address: ec2-a-b-c-d.compute-1.amazonaws.com
// in us-east-1, ec2-a-b-c-d.REGION.compute.amazonaws.com elsewhere.
func publicHostname(ip netip.Addr, region string) string {
	domain := "compute-1.amazonaws.com"
	if region != "" && region != "us-east-1" {
		domain = region + ".compute.amazonaws.com"
	}
	return "ec2-" + strings.ReplaceAll(ip.String(), ".", "-") + "." + domain
}

// get resolves a path under a version ("" is the version's root): a leaf's value, a
// directory's listing, or false.
func (t *tree) get(path string) (string, bool) {
	path = strings.TrimSuffix(path, "/")
	if v, ok := t.leaves[path]; ok {
		return v, true
	}
	if v, ok := t.listing[path]; ok {
		return v, true
	}
	prefix := path + "/"
	if path == "" {
		prefix = ""
	}
	names := map[string]bool{}
	for p := range t.leaves {
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 && path != "" {
			names[rest[:i+1]] = true
		} else if i >= 0 {
			names[rest[:i]] = true // the version root lists its parts without slashes, as AWS does
		} else {
			names[rest] = true
		}
	}
	if len(names) == 0 {
		return "", false
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	return strings.Join(list, "\n"), true
}
