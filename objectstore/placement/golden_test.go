package placement

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// goldenMap is a small cluster with uneven boxes, one offline disk, one
// draining, one removed and, in the weighted variant, three disk sizes.
func goldenMap(weighted bool) Map {
	m := Map{Version: 7}
	for _, d := range []struct {
		node, id string
		state    DiskState
		weight   int64
	}{
		{"alpha", "d1f4c2a0-0001", Online, 4 << 40},
		{"alpha", "d1f4c2a0-0002", Online, 4 << 40},
		{"alpha", "d1f4c2a0-0003", Offline, 8 << 40},
		{"bravo", "7e21b9c4-0001", Online, 2 << 40},
		{"bravo", "7e21b9c4-0002", Draining, 2 << 40},
		{"charlie", "0c9a5d11-0001", Online, 4 << 40},
		{"charlie", "0c9a5d11-0002", Online, 4 << 40},
		{"charlie", "0c9a5d11-0003", Removed, 4 << 40},
		{"delta", "5b33e870-0001", Online, 8 << 40},
		{"delta", "5b33e870-0002", Online, 8 << 40},
		{"echo", "a4e0f6d2-0001", Online, 4 << 40},
		{"foxtrot", "f9b1c3e5-0001", Online, 4 << 40},
		{"foxtrot", "f9b1c3e5-0002", Online, 4 << 40},
	} {
		w := d.weight
		if !weighted {
			w = 0
		}
		m.Disks = append(m.Disks, Disk{ID: d.id, Node: d.node, State: d.state, Weight: w})
	}
	return m
}

var goldenObjects = []struct{ bucket, object string }{
	{"photos", "2024/07/IMG_0001.jpg"},
	{"photos", "2024/07/IMG_0002.jpg"},
	{"backups", "db/2024-07-01T00:00:00Z.tar.zst"},
	{"logs", ""},
	{"a", "very/" + strings.Repeat("long/", 100) + "key"},
}

// golden pins where objects go: if this test fails, placement changed and
// existing objects would be looked for on the wrong disks. Do not update
// the expectations without a migration plan (see the package doc).
func TestGoldenPlacement(t *testing.T) {
	want := map[bool][]string{
		false: {
			"photos/2024/07/IMG_0001.jpg 4+2: 0c9a5d11-0001 a4e0f6d2-0001 5b33e870-0001 f9b1c3e5-0002 d1f4c2a0-0001 7e21b9c4-0001",
			"photos/2024/07/IMG_0001.jpg 2+1: 0c9a5d11-0001 a4e0f6d2-0001 5b33e870-0001",
			"photos/2024/07/IMG_0001.jpg 6+3: 0c9a5d11-0001 a4e0f6d2-0001 5b33e870-0001 f9b1c3e5-0002 d1f4c2a0-0001 7e21b9c4-0001 0c9a5d11-0002 5b33e870-0002 f9b1c3e5-0001",
			"photos/2024/07/IMG_0002.jpg 4+2: 0c9a5d11-0002 d1f4c2a0-0001 a4e0f6d2-0001 5b33e870-0002 7e21b9c4-0001 f9b1c3e5-0002",
			"photos/2024/07/IMG_0002.jpg 2+1: 0c9a5d11-0002 d1f4c2a0-0001 a4e0f6d2-0001",
			"photos/2024/07/IMG_0002.jpg 6+3: 0c9a5d11-0002 d1f4c2a0-0001 a4e0f6d2-0001 5b33e870-0002 7e21b9c4-0001 f9b1c3e5-0002 0c9a5d11-0001 d1f4c2a0-0003 5b33e870-0001",
			"backups/db/2024-07-01T00:00:00Z.... 4+2: f9b1c3e5-0001 d1f4c2a0-0003 a4e0f6d2-0001 7e21b9c4-0001 0c9a5d11-0002 5b33e870-0001",
			"backups/db/2024-07-01T00:00:00Z.... 2+1: f9b1c3e5-0001 d1f4c2a0-0003 a4e0f6d2-0001",
			"backups/db/2024-07-01T00:00:00Z.... 6+3: f9b1c3e5-0001 d1f4c2a0-0003 a4e0f6d2-0001 7e21b9c4-0001 0c9a5d11-0002 5b33e870-0001 f9b1c3e5-0002 d1f4c2a0-0002 0c9a5d11-0001",
			"logs/ 4+2: a4e0f6d2-0001 7e21b9c4-0001 0c9a5d11-0001 d1f4c2a0-0001 f9b1c3e5-0001 5b33e870-0002",
			"logs/ 2+1: a4e0f6d2-0001 7e21b9c4-0001 0c9a5d11-0001",
			"logs/ 6+3: a4e0f6d2-0001 7e21b9c4-0001 0c9a5d11-0001 d1f4c2a0-0001 f9b1c3e5-0001 5b33e870-0002 0c9a5d11-0002 d1f4c2a0-0003 f9b1c3e5-0002",
			"a/very/long/long/long/long... 4+2: 5b33e870-0002 7e21b9c4-0001 a4e0f6d2-0001 f9b1c3e5-0001 d1f4c2a0-0001 0c9a5d11-0002",
			"a/very/long/long/long/long... 2+1: 5b33e870-0002 7e21b9c4-0001 a4e0f6d2-0001",
			"a/very/long/long/long/long... 6+3: 5b33e870-0002 7e21b9c4-0001 a4e0f6d2-0001 f9b1c3e5-0001 d1f4c2a0-0001 0c9a5d11-0002 5b33e870-0001 f9b1c3e5-0002 d1f4c2a0-0003",
		},
		true: {
			"photos/2024/07/IMG_0001.jpg 4+2: 0c9a5d11-0001 5b33e870-0001 a4e0f6d2-0001 d1f4c2a0-0003 f9b1c3e5-0002 7e21b9c4-0001",
			"photos/2024/07/IMG_0001.jpg 2+1: 0c9a5d11-0001 5b33e870-0001 a4e0f6d2-0001",
			"photos/2024/07/IMG_0001.jpg 6+3: 0c9a5d11-0001 5b33e870-0001 a4e0f6d2-0001 d1f4c2a0-0003 f9b1c3e5-0002 7e21b9c4-0001 0c9a5d11-0002 5b33e870-0002 d1f4c2a0-0001",
			"photos/2024/07/IMG_0002.jpg 4+2: 0c9a5d11-0002 d1f4c2a0-0001 5b33e870-0002 a4e0f6d2-0001 f9b1c3e5-0002 7e21b9c4-0001",
			"photos/2024/07/IMG_0002.jpg 2+1: 0c9a5d11-0002 d1f4c2a0-0001 5b33e870-0002",
			"photos/2024/07/IMG_0002.jpg 6+3: 0c9a5d11-0002 d1f4c2a0-0001 5b33e870-0002 a4e0f6d2-0001 f9b1c3e5-0002 7e21b9c4-0001 0c9a5d11-0001 d1f4c2a0-0003 5b33e870-0001",
			"backups/db/2024-07-01T00:00:00Z.... 4+2: f9b1c3e5-0001 d1f4c2a0-0003 a4e0f6d2-0001 0c9a5d11-0002 5b33e870-0001 7e21b9c4-0001",
			"backups/db/2024-07-01T00:00:00Z.... 2+1: f9b1c3e5-0001 d1f4c2a0-0003 a4e0f6d2-0001",
			"backups/db/2024-07-01T00:00:00Z.... 6+3: f9b1c3e5-0001 d1f4c2a0-0003 a4e0f6d2-0001 0c9a5d11-0002 5b33e870-0001 7e21b9c4-0001 f9b1c3e5-0002 d1f4c2a0-0002 0c9a5d11-0001",
			"logs/ 4+2: a4e0f6d2-0001 0c9a5d11-0001 d1f4c2a0-0001 7e21b9c4-0001 f9b1c3e5-0001 5b33e870-0002",
			"logs/ 2+1: a4e0f6d2-0001 0c9a5d11-0001 d1f4c2a0-0001",
			"logs/ 6+3: a4e0f6d2-0001 0c9a5d11-0001 d1f4c2a0-0001 7e21b9c4-0001 f9b1c3e5-0001 5b33e870-0002 0c9a5d11-0002 d1f4c2a0-0003 f9b1c3e5-0002",
			"a/very/long/long/long/long... 4+2: 5b33e870-0002 a4e0f6d2-0001 7e21b9c4-0001 f9b1c3e5-0001 d1f4c2a0-0001 0c9a5d11-0002",
			"a/very/long/long/long/long... 2+1: 5b33e870-0002 a4e0f6d2-0001 7e21b9c4-0001",
			"a/very/long/long/long/long... 6+3: 5b33e870-0002 a4e0f6d2-0001 7e21b9c4-0001 f9b1c3e5-0001 d1f4c2a0-0001 0c9a5d11-0002 5b33e870-0001 f9b1c3e5-0002 d1f4c2a0-0003",
		},
	}
	for _, weighted := range []bool{false, true} {
		topo := mustNew(t, goldenMap(weighted))
		var got []string
		for _, o := range goldenObjects {
			for _, s := range [][2]int{{4, 2}, {2, 1}, {6, 3}} {
				set := mustPlace(t, topo, scheme(s[0], s[1]), o.bucket, o.object)
				got = append(got, fmt.Sprintf("%s/%s %d+%d: %s", o.bucket, short(o.object), s[0], s[1], strings.Join(ids(set), " ")))
			}
		}
		if !slices.Equal(got, want[weighted]) {
			t.Errorf("weighted %v: placement changed:\n%s\nwant:\n%s", weighted, strings.Join(got, "\n"), strings.Join(want[weighted], "\n"))
		}
	}
}

func short(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}

// The hash and the fixed-point logarithm are part of the format too.
func TestGoldenHashes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"objectHash", objectHash("photos", "2024/07/IMG_0001.jpg"), 0xfd6e285f1a561bb6},
		{"objectHash empty", objectHash("", ""), 0x7337047b707d702b},
		{"diskHash", diskHash("d1f4c2a0-0001"), 0xe5a9c66e56e75cbd},
		{"mix", mix(1, 2), 0x1e535eede31428f0},
		{"negLog2(0)", negLog2(0), 64 << fracBits},
		{"negLog2(1)", negLog2(1), 64 << fracBits},
		{"negLog2(2^32)", negLog2(1 << 32), 32 << fracBits},
		{"negLog2(2^63-1)", negLog2(1<<63 - 1), 1<<fracBits + 1},
		{"negLog2(2^63)", negLog2(1 << 63), 1 << fracBits},
		{"negLog2(0xdeadbeefcafebabe)", negLog2(0xdeadbeefcafebabe), 0x67011bd8d5547f},
		{"negLog2(2^64-1)", negLog2(1<<64 - 1), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

// The disk map's order, how often it is prepared and how many other
// placements run concurrently change nothing.
func TestPlacementIsDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, weighted := range []bool{false, true} {
		m := goldenMap(weighted)
		ref := mustNew(t, m)
		for range 20 {
			shuffled := Map{Version: m.Version, Disks: slices.Clone(m.Disks)}
			rng.Shuffle(len(shuffled.Disks), func(i, j int) {
				shuffled.Disks[i], shuffled.Disks[j] = shuffled.Disks[j], shuffled.Disks[i]
			})
			topo := mustNew(t, shuffled)
			for i := range 50 {
				a := mustPlace(t, ref, scheme(4, 2), "b", objectName(i))
				b := mustPlace(t, topo, scheme(4, 2), "b", objectName(i))
				if !slices.Equal(a, b) {
					t.Fatalf("disk order changed placement: %v vs %v", ids(a), ids(b))
				}
			}
		}
	}
	// Concurrent use of one Topology (go test -race checks the pooled scratch).
	topo := mustNew(t, goldenMap(true))
	done := make(chan []string)
	for g := range 4 {
		go func() {
			var out []string
			for i := range 200 {
				set, _ := topo.Place(scheme(4, 2), "b", objectName((i*7+g)%200))
				out = append(out, strings.Join(ids(set), ","))
			}
			done <- out
		}()
	}
	for range 4 {
		<-done
	}
	for i := range 200 {
		a := mustPlace(t, topo, scheme(4, 2), "b", objectName(i))
		b := mustPlace(t, mustNew(t, goldenMap(true)), scheme(4, 2), "b", objectName(i))
		if !slices.Equal(a, b) {
			t.Fatalf("%v vs %v", ids(a), ids(b))
		}
	}
}
