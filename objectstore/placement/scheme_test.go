package placement

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/banyancloud/banyan/objectstore/erasure"
)

func TestChooseSchemeTable(t *testing.T) {
	for _, c := range []struct {
		boxes []int
		k, m  int
		tol   Tolerance
	}{
		{[]int{1}, 1, 0, Tolerance{Shards: 1, PerBox: 1}},
		{[]int{2}, 1, 1, Tolerance{Shards: 2, PerBox: 2, LostDisks: 1}},
		{[]int{3}, 2, 1, Tolerance{Shards: 3, PerBox: 3, LostDisks: 1, DownDisks: 1}},
		{[]int{4}, 2, 2, Tolerance{Shards: 4, PerBox: 4, LostDisks: 2, DownDisks: 1}},
		{[]int{5}, 3, 2, Tolerance{Shards: 5, PerBox: 5, LostDisks: 2, DownDisks: 2}},
		{[]int{8}, 4, 2, Tolerance{Shards: 6, PerBox: 6, LostDisks: 2, DownDisks: 2}},
		{[]int{16}, 8, 4, Tolerance{Shards: 12, PerBox: 12, LostDisks: 4, DownDisks: 4}},
		{[]int{1, 1}, 1, 1, Tolerance{Shards: 2, PerBox: 1, LostDisks: 1, LostBoxes: 1}},
		{[]int{1, 4}, 1, 1, Tolerance{Shards: 2, PerBox: 1, LostDisks: 1, LostBoxes: 1}},
		{[]int{2, 2}, 2, 2, Tolerance{Shards: 4, PerBox: 2, LostDisks: 2, LostBoxes: 1, DownDisks: 1}},
		{[]int{1, 1, 1}, 2, 1, Tolerance{Shards: 3, PerBox: 1, LostDisks: 1, LostBoxes: 1, DownDisks: 1, DownBoxes: 1}},
		{[]int{1, 3, 3}, 2, 1, Tolerance{Shards: 3, PerBox: 1, LostDisks: 1, LostBoxes: 1, DownDisks: 1, DownBoxes: 1}},
		{[]int{2, 2, 2}, 4, 2, Tolerance{Shards: 6, PerBox: 2, LostDisks: 2, LostBoxes: 1, DownDisks: 2, DownBoxes: 1}},
		{[]int{1, 1, 1, 1}, 2, 2, Tolerance{Shards: 4, PerBox: 1, LostDisks: 2, LostBoxes: 2, DownDisks: 1, DownBoxes: 1}},
		{[]int{4, 4, 4, 4}, 4, 4, Tolerance{Shards: 8, PerBox: 2, LostDisks: 4, LostBoxes: 2, DownDisks: 3, DownBoxes: 1}},
		{[]int{1, 1, 1, 1, 1}, 3, 2, Tolerance{Shards: 5, PerBox: 1, LostDisks: 2, LostBoxes: 2, DownDisks: 2, DownBoxes: 2}},
		{[]int{2, 2, 2, 2, 2}, 6, 4, Tolerance{Shards: 10, PerBox: 2, LostDisks: 4, LostBoxes: 2, DownDisks: 4, DownBoxes: 2}},
		{[]int{1, 1, 1, 1, 1, 1}, 4, 2, Tolerance{Shards: 6, PerBox: 1, LostDisks: 2, LostBoxes: 2, DownDisks: 2, DownBoxes: 2}},
		{[]int{4, 4, 4, 4, 4, 4}, 8, 4, Tolerance{Shards: 12, PerBox: 2, LostDisks: 4, LostBoxes: 2, DownDisks: 4, DownBoxes: 2}},
		{[]int{1, 1, 1, 1, 1, 1, 1, 1}, 4, 2, Tolerance{Shards: 6, PerBox: 1, LostDisks: 2, LostBoxes: 2, DownDisks: 2, DownBoxes: 2}},
		// 8 boxes, room for 12 shards at two per box only with 4 doubles.
		{[]int{2, 2, 2, 2, 1, 1, 1, 1}, 8, 4, Tolerance{Shards: 12, PerBox: 2, LostDisks: 4, LostBoxes: 2, DownDisks: 4, DownBoxes: 2}},
		{[]int{2, 2, 2, 1, 1, 1, 1, 1}, 4, 2, Tolerance{Shards: 6, PerBox: 1, LostDisks: 2, LostBoxes: 2, DownDisks: 2, DownBoxes: 2}},
		{[]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 8, 4, Tolerance{Shards: 12, PerBox: 1, LostDisks: 4, LostBoxes: 4, DownDisks: 4, DownBoxes: 4}},
		{[]int{3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3}, 8, 4, Tolerance{Shards: 12, PerBox: 1, LostDisks: 4, LostBoxes: 4, DownDisks: 4, DownBoxes: 4}},
	} {
		t.Run(fmt.Sprint(c.boxes), func(t *testing.T) {
			s, tol, err := ChooseScheme(boxesMap(c.boxes...))
			if err != nil {
				t.Fatal(err)
			}
			if s != scheme(c.k, c.m) || tol != c.tol {
				t.Errorf("got %v %+v, want %d+%d %+v", s, tol, c.k, c.m, c.tol)
			}
		})
	}
}

// A box that is down (all its disks Offline) must not change the scheme of
// new objects, while disks being drained or removed do.
func TestChooseSchemeIgnoresOfflineCountsDraining(t *testing.T) {
	m := boxesMap(1, 1, 1, 1, 1, 1)
	m.Disks[0].State = Offline
	if s, _, _ := ChooseScheme(m); s != scheme(4, 2) {
		t.Errorf("with a box offline: %v, want 4+2", s)
	}
	m.Disks[0].State = Draining
	if s, _, _ := ChooseScheme(m); s != scheme(3, 2) {
		t.Errorf("with a box draining: %v, want 3+2", s)
	}
	m.Disks[0].State = Removed
	if s, _, _ := ChooseScheme(m); s != scheme(3, 2) {
		t.Errorf("with a box removed: %v, want 3+2", s)
	}
	if _, _, err := ChooseScheme(Map{}); !errors.Is(err, ErrNoDisks) {
		t.Errorf("empty map: %v, want ErrNoDisks", err)
	}
}

func TestCheckSchemeRefusesWhatBreaksTheRule(t *testing.T) {
	for _, c := range []struct {
		boxes  []int
		k, m   int
		perBox int
		want   string
	}{
		{[]int{3}, 2, 2, 0, "needs 4 disks"},
		{[]int{3, 3}, 4, 2, 3, "puts 3 shards of an object on one box but has only 2 parity"},
		{[]int{1, 3}, 2, 2, 3, "with 2 parity at most 3 shards fit (1+2), or add boxes"},
		{[]int{4, 4}, 3, 1, 2, "with 1 parity at most 2 shards fit (1+1), or add boxes"},
		{[]int{1, 1}, 2, 0, 1, "without parity losing any box loses objects"},
		{[]int{4}, 4, 0, 4, "without parity one failed disk loses objects"},
		{[]int{1, 1, 1}, 3, 1, 0, "needs 4 disks"},
		{[]int{2, 2, 2}, 5, 1, 2, "only 1 parity shard,"},
	} {
		s := scheme(c.k, c.m)
		_, err := CheckScheme(boxesMap(c.boxes...), s)
		var fe *FitError
		if !errors.As(err, &fe) || !errors.Is(err, ErrDoesNotFit) {
			t.Errorf("%d+%d on %v: %v, want a *FitError", c.k, c.m, c.boxes, err)
			continue
		}
		if fe.PerBox != c.perBox || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%d+%d on %v: PerBox %d, %q; want PerBox %d and %q", c.k, c.m, c.boxes, fe.PerBox, err, c.perBox, c.want)
		}
		if _, perr := Place(boxesMap(c.boxes...), s, "b", "o"); perr == nil || perr.Error() != err.Error() {
			t.Errorf("Place with %d+%d on %v: %v, want %v", c.k, c.m, c.boxes, perr, err)
		}
	}
	// Schemes that fit: 2+2 on one box of 4 (the disk is the failure domain
	// there) and 1+0 on a map of one disk.
	for _, c := range []struct {
		boxes []int
		k, m  int
	}{{[]int{4}, 2, 2}, {[]int{1}, 1, 0}, {[]int{2, 2}, 1, 3}, {[]int{3, 3, 3}, 6, 3}} {
		if _, err := CheckScheme(boxesMap(c.boxes...), scheme(c.k, c.m)); err != nil {
			t.Errorf("%d+%d on %v: %v", c.k, c.m, c.boxes, err)
		}
	}
	if _, err := CheckScheme(boxesMap(4), erasure.Scheme{Data: 0, Parity: 2, BlockSize: 1}); !errors.Is(err, erasure.ErrInvalidScheme) {
		t.Errorf("0+2: %v, want ErrInvalidScheme", err)
	}
}

func TestParseStorageClass(t *testing.T) {
	for in, want := range map[string]StorageClass{"": Standard, "STANDARD": Standard, "REDUCED_REDUNDANCY": ReducedRedundancy, "GLACIER_IR": GlacierIR} {
		if got, err := ParseStorageClass(in); err != nil || got != want {
			t.Errorf("ParseStorageClass(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"standard", "EXPRESS_ONEZONE", "OUTPOSTS", "4+2"} {
		if _, err := ParseStorageClass(in); !errors.Is(err, ErrInvalidStorageClass) {
			t.Errorf("ParseStorageClass(%q): %v, want ErrInvalidStorageClass", in, err)
		}
	}
}

func TestParseScheme(t *testing.T) {
	for in, want := range map[string]erasure.Scheme{
		"4+2":                 scheme(4, 2),
		"1+0":                 scheme(1, 0),
		"8+4/65536":           {Data: 8, Parity: 4, BlockSize: 65536},
		scheme(3, 2).String(): scheme(3, 2),
	} {
		if got, err := ParseScheme(in); err != nil || got != want {
			t.Errorf("ParseScheme(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "4", "4+", "+2", "a+b", "4+2/x", "0+2", "4+-1", "200+100", "4+2/0"} {
		if _, err := ParseScheme(in); !errors.Is(err, erasure.ErrInvalidScheme) {
			t.Errorf("ParseScheme(%q): %v, want ErrInvalidScheme", in, err)
		}
	}
}

func TestSchemeFor(t *testing.T) {
	six := boxesMap(2, 2, 2, 2, 2, 2, 2) // 7 boxes: 8+4 dealt two per box at most
	for _, c := range []struct {
		m        Map
		override erasure.Scheme
		class    StorageClass
		want     erasure.Scheme
	}{
		{boxesMap(1, 1, 1, 1, 1, 1), erasure.Scheme{}, Standard, scheme(4, 2)},
		{boxesMap(1, 1, 1, 1, 1, 1), erasure.Scheme{}, ReducedRedundancy, scheme(5, 1)},
		{boxesMap(1, 1, 1, 1, 1, 1), erasure.Scheme{}, Glacier, scheme(4, 2)},
		{boxesMap(1, 1, 1, 1, 1, 1), scheme(3, 3), Standard, scheme(3, 3)},
		{boxesMap(1, 1, 1, 1, 1, 1), scheme(3, 3), ReducedRedundancy, scheme(5, 1)},
		// Two shards per box: (n-1)+1 would break the rule, so RRS gets the full scheme.
		{six, erasure.Scheme{}, ReducedRedundancy, scheme(8, 4)},
		{boxesMap(1, 1), erasure.Scheme{}, ReducedRedundancy, scheme(1, 1)},
		{boxesMap(5), erasure.Scheme{}, ReducedRedundancy, scheme(4, 1)},
	} {
		got, tol, err := SchemeFor(c.m, c.override, c.class)
		if err != nil || got != c.want {
			t.Errorf("SchemeFor(%d disks, %v, %s) = %v, %v; want %v", len(c.m.Disks), c.override, c.class, got, err, c.want)
		}
		if want, _ := CheckScheme(c.m, got); tol != want {
			t.Errorf("tolerance %+v, CheckScheme says %+v", tol, want)
		}
	}
	// An override that no longer fits fails rather than weakening silently.
	if _, _, err := SchemeFor(boxesMap(1, 1, 1), scheme(2, 2), Standard); !errors.Is(err, ErrDoesNotFit) {
		t.Errorf("2+2 override on 3 boxes: %v, want ErrDoesNotFit", err)
	}
}

func TestSchemeWith(t *testing.T) {
	topo, err := New(boxesMap(1, 1, 1, 1, 1, 1)) // automatic 4+2
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		o     Overrides
		class StorageClass
		want  erasure.Scheme
	}{
		{Overrides{}, Standard, scheme(4, 2)},
		{Overrides{}, ReducedRedundancy, scheme(5, 1)},
		{Overrides{Standard: scheme(2, 2)}, Standard, scheme(2, 2)},
		{Overrides{Standard: scheme(2, 2)}, GlacierIR, scheme(2, 2)},
		{Overrides{Standard: scheme(2, 2)}, ReducedRedundancy, scheme(3, 1)}, // STANDARD's set, split
		{Overrides{Standard: scheme(2, 2), ReducedRedundancy: scheme(2, 1)}, ReducedRedundancy, scheme(2, 1)},
		{Overrides{Standard: scheme(2, 2), ReducedRedundancy: scheme(2, 1)}, Standard, scheme(2, 2)},
		{Overrides{Bucket: scheme(3, 3), Standard: scheme(2, 2), ReducedRedundancy: scheme(2, 1)}, Standard, scheme(3, 3)},
		{Overrides{Bucket: scheme(3, 3), Standard: scheme(2, 2), ReducedRedundancy: scheme(2, 1)}, ReducedRedundancy, scheme(5, 1)},
	} {
		if got, _, err := topo.SchemeWith(c.o, c.class); err != nil || got != c.want {
			t.Errorf("SchemeWith(%+v, %s) = %v, %v; want %v", c.o, c.class, got, err, c.want)
		}
	}
	// An override of any kind that does not fit fails; nothing weaker is used.
	for _, o := range []Overrides{{Bucket: scheme(4, 4)}, {Standard: scheme(4, 4)}, {ReducedRedundancy: scheme(4, 4)}} {
		if _, _, err := topo.SchemeWith(o, ReducedRedundancy); !errors.Is(err, ErrDoesNotFit) {
			t.Errorf("SchemeWith(%+v): %v, want ErrDoesNotFit", o, err)
		}
	}
}

func TestCheckOverrideKeepsLookupsRight(t *testing.T) {
	m := boxesMap(4, 4, 4, 4) // automatic 4+4: lookups trust 4 answers
	if _, err := CheckScheme(m, scheme(8, 4)); err != nil {
		t.Fatalf("8+4 on 4 boxes of 4: %v", err)
	}
	topo, _ := New(m)
	// 8+4 is acknowledged on 8 of 12 disks: 4 may lack it, as many as a
	// lookup may hear from.
	var fe *FitError
	if _, err := topo.CheckOverride(scheme(8, 4)); !errors.As(err, &fe) || !strings.Contains(fe.Reason, "missing from 4 of its 12 disks") {
		t.Errorf("CheckOverride(8+4): %v", err)
	}
	if _, err := topo.CheckOverride(scheme(6, 2)); err != nil {
		t.Errorf("CheckOverride(6+2): %v", err)
	}
}
