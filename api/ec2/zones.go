package ec2

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/api/service"
)

// Zones and regions. A cluster is one region; its availability zones are the zones its
// boxes were started in (banyan server --zone), the region's first zone when none says.

// zones lists the region's availability zones, sorted.
func (f *front) zones() []string {
	seen := map[string]bool{}
	if boxes, err := f.st().Boxes(); err == nil {
		for _, b := range boxes {
			if b.Zone != "" {
				seen[b.Zone] = true
			}
		}
	}
	if len(seen) == 0 {
		seen[f.deps.Region+"a"] = true
	}
	var out []string
	for z := range seen {
		out = append(out, z)
	}
	sort.Strings(out)
	return out
}

// liveZones are the zones with at least one box that is up.
func (f *front) liveZones() map[string]bool {
	live := map[string]bool{}
	for _, n := range f.deps.Live() {
		live[n] = true
	}
	out := map[string]bool{}
	if boxes, err := f.st().Boxes(); err == nil {
		for _, b := range boxes {
			if live[b.Node] {
				out[b.Zone] = true
			}
		}
	}
	return out
}

// zoneIDs gives each zone (in the order zones lists them) its zone ID: use1-az1, ...
func (f *front) zoneIDs(zones []string) map[string]string {
	out := map[string]string{}
	for i, z := range zones {
		out[z] = regionCode(f.deps.Region) + "-az" + strconv.Itoa(i+1)
	}
	return out
}

// regionCode shortens a region name as EC2's zone IDs do: us-east-1 → use1.
func regionCode(region string) string {
	parts := strings.Split(region, "-")
	if len(parts) < 3 {
		return region
	}
	var b strings.Builder
	b.WriteString(parts[0])
	for _, p := range parts[1 : len(parts)-1] {
		b.WriteByte(p[0])
	}
	b.WriteString(parts[len(parts)-1])
	return b.String()
}

var zoneFilters = []string{"zone-name", "zone-id", "state", "region-name", "zone-type", "group-name", "opt-in-status"}

func (f *front) describeAvailabilityZones(c *service.Call, in *DescribeAvailabilityZonesRequest) (*DescribeAvailabilityZonesResult, error) {
	if err := f.authorize(c, "DescribeAvailabilityZones", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, zoneFilters...)
	if err != nil {
		return nil, err
	}
	zones := f.zones()
	ids := f.zoneIDs(zones)
	live := f.liveZones()
	for _, z := range in.ZoneNames {
		if !slices.Contains(zones, z) {
			return nil, errInvalidParameterValue("The zone '%s' does not exist.", z)
		}
	}
	out := &DescribeAvailabilityZonesResult{AvailabilityZones: []AvailabilityZone{}}
	for _, z := range zones {
		id := ids[z]
		st := "available"
		if len(live) > 0 && !live[z] {
			st = "unavailable"
		}
		if len(in.ZoneNames) > 0 && !slices.Contains(in.ZoneNames, z) || len(in.ZoneIds) > 0 && !slices.Contains(in.ZoneIds, id) {
			continue
		}
		attrs := map[string]string{"zone-name": z, "zone-id": id, "state": st, "region-name": f.deps.Region,
			"zone-type": "availability-zone", "group-name": f.deps.Region, "opt-in-status": "opt-in-not-required"}
		if !fs.match(func(name string) []string { return []string{attrs[name]} }, nil) {
			continue
		}
		out.AvailabilityZones = append(out.AvailabilityZones, AvailabilityZone{
			ZoneName: ptr(z), ZoneId: ptr(id), State: ptr(st), RegionName: ptr(f.deps.Region),
			ZoneType: ptr("availability-zone"), GroupName: ptr(f.deps.Region), NetworkBorderGroup: ptr(f.deps.Region),
			OptInStatus: ptr("opt-in-not-required"), Messages: []AvailabilityZoneMessage{},
		})
	}
	return out, nil
}

func (f *front) describeRegions(c *service.Call, in *DescribeRegionsRequest) (*DescribeRegionsResult, error) {
	if err := f.authorize(c, "DescribeRegions", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, "region-name", "endpoint", "opt-in-status")
	if err != nil {
		return nil, err
	}
	for _, r := range in.RegionNames {
		if r != f.deps.Region {
			return nil, errInvalidParameterValue("Invalid region: %s", r)
		}
	}
	endpoint := "ec2." + f.deps.Region + ".amazonaws.com"
	if c.HTTP != nil && c.HTTP.Host != "" {
		endpoint = c.HTTP.Host
	}
	attrs := map[string]string{"region-name": f.deps.Region, "endpoint": endpoint, "opt-in-status": "opt-in-not-required"}
	out := &DescribeRegionsResult{Regions: []Region{}}
	if fs.match(func(name string) []string { return []string{attrs[name]} }, nil) {
		out.Regions = append(out.Regions, Region{RegionName: ptr(f.deps.Region), Endpoint: ptr(endpoint), OptInStatus: ptr("opt-in-not-required")})
	}
	return out, nil
}
