package replica

import (
	"fmt"
	"math/bits"
)

// ExtentSet is a set of extent numbers, a bitmap. The zero value is empty
// and grows as extents are added.
type ExtentSet struct {
	words []uint64
	n     int64 // members
}

// Add inserts the extents of r and reports how many were not members yet.
func (s *ExtentSet) Add(r Run) int64 {
	added := int64(0)
	for e := r.First; e < r.First+r.Count; e++ {
		w := int(e / 64)
		for w >= len(s.words) {
			s.words = append(s.words, 0)
		}
		if b := uint64(1) << (e % 64); s.words[w]&b == 0 {
			s.words[w] |= b
			added++
		}
	}
	s.n += added
	return added
}

// Remove deletes the extents of r.
func (s *ExtentSet) Remove(r Run) {
	for e := r.First; e < r.First+r.Count; e++ {
		w := int(e / 64)
		if w >= len(s.words) {
			return
		}
		if b := uint64(1) << (e % 64); s.words[w]&b != 0 {
			s.words[w] &^= b
			s.n--
		}
	}
}

// Has reports whether extent e is a member.
func (s *ExtentSet) Has(e int64) bool {
	w := int(e / 64)
	return e >= 0 && w < len(s.words) && s.words[w]&(1<<(e%64)) != 0
}

// Len is the number of members.
func (s *ExtentSet) Len() int64 { return s.n }

// Runs lists the members as ascending, maximal runs.
func (s *ExtentSet) Runs() []Run {
	var runs []Run
	for w, word := range s.words {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			e := int64(w*64 + b)
			word &^= 1 << b
			if k := len(runs) - 1; k >= 0 && runs[k].First+runs[k].Count == e {
				runs[k].Count++
			} else {
				runs = append(runs, Run{First: e, Count: 1})
			}
		}
	}
	return runs
}

// Members lists the members in ascending order.
func (s *ExtentSet) Members() []int64 {
	out := make([]int64, 0, s.n)
	for _, r := range s.Runs() {
		for e := r.First; e < r.First+r.Count; e++ {
			out = append(out, e)
		}
	}
	return out
}

// Clone returns an independent copy.
func (s *ExtentSet) Clone() *ExtentSet {
	return &ExtentSet{words: append([]uint64(nil), s.words...), n: s.n}
}

// SetOf builds a set from runs, refusing any that reach extents >= limit.
func SetOf(runs []Run, limit int64) (*ExtentSet, error) {
	if err := checkRuns(runs, limit); err != nil {
		return nil, err
	}
	s := &ExtentSet{}
	for _, r := range runs {
		s.Add(r)
	}
	return s, nil
}

func checkRuns(runs []Run, limit int64) error {
	for _, r := range runs {
		if r.First < 0 || r.Count <= 0 || r.First >= limit || r.Count > limit-r.First {
			return fmt.Errorf("%w: extents [%d, +%d) outside a volume of %d extents", ErrOutOfRange, r.First, r.Count, limit)
		}
	}
	return nil
}
