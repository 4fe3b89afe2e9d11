package objectstore

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRandomOpsWithABoxDown runs random writes, deletes and reads against
// a model while one box at a time is down (or every disk is up), healing
// when a box returns: every read and listing must match the model.
func TestRandomOpsWithABoxDown(t *testing.T) {
	c := newCluster(t, 3, 2)
	s := newTestStore(t, c, Options{BlockSize: 32 << 10, InlineLimit: 16 << 10})
	r := rand.New(rand.NewPCG(1, 2))
	model := map[string][]byte{} // latest live version of each key
	keys := []string{"a", "a/b", "a/c", "b", "c/d/e", "c/d", "z"}
	ops := 300
	if testing.Short() {
		ops = 120
	}
	for op := range ops {
		switch {
		case op%40 == 0:
			c.mend()
			for _, k := range keys {
				if _, err := s.HealObject(ctxT(t), "b", k); err != nil {
					t.Fatalf("op %d: heal %s: %v", op, k, err)
				}
			}
			if op%80 == 0 {
				c.breakBox(fmt.Sprint("box", r.IntN(3)))
			}
		}
		k := keys[r.IntN(len(keys))]
		switch x := r.IntN(10); {
		case x < 4:
			data := randBytes(r.IntN(100<<10), uint64(op))
			// Enabled and Suspended agree on what the latest version is,
			// which is all the model tracks.
			versioning := []string{VersioningEnabled, VersioningSuspended}[r.IntN(2)]
			mustPut(t, s, k, data, PutOptions{Versioning: versioning})
			model[k] = data
		case x < 6:
			versioning := []string{VersioningEnabled, VersioningSuspended}[r.IntN(2)]
			if _, err := s.DeleteObject(ctxT(t), "b", k, DeleteOptions{Versioning: versioning}); err != nil {
				t.Fatalf("op %d: delete: %v", op, err)
			}
			delete(model, k)
		case x < 9:
			_, rc, err := s.GetObject(ctxT(t), "b", k, GetOptions{})
			want, ok := model[k]
			if !ok {
				if !errors.Is(err, ErrObjectNotFound) {
					t.Fatalf("op %d: get deleted %s: %v", op, k, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("op %d: get %s: %v", op, k, err)
			}
			var got bytes.Buffer
			_, err = got.ReadFrom(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("op %d: get %s: %d bytes, want %d: %v", op, k, got.Len(), len(want), err)
			}
		default:
			res, err := s.ListObjects(ctxT(t), "b", ListOptions{})
			if err != nil {
				t.Fatalf("op %d: list: %v", op, err)
			}
			var got, want []string
			for _, o := range res.Objects {
				got = append(got, o.Key)
				if o.Size != int64(len(model[o.Key])) {
					t.Fatalf("op %d: list: %s has %d bytes, want %d", op, o.Key, o.Size, len(model[o.Key]))
				}
			}
			for k := range model {
				want = append(want, k)
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("op %d: list %q, want %q", op, got, want)
			}
		}
	}
	c.mend()
	for _, k := range keys {
		if _, err := s.HealObject(ctxT(t), "b", k); err != nil {
			t.Fatal(err)
		}
		if _, ok := model[k]; ok {
			verifyAll(t, s, c, k)
		}
	}
}
