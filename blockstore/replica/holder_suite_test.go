package replica

import (
	"testing"
)

// holderSuite checks the Holder contract; it runs against a Store and
// against a Remote to one over HTTP, so both behave the same.
func holderSuite(t *testing.T, h Holder) {
	const id, size = "vol-suite", 3*ExtentSize + 8192
	must(t, h.Create(bg, id, size))
	wantErr(t, h.Create(bg, id, size), ErrExists, "second create")
	info, err := h.Info(bg, id)
	must(t, err)
	if info.Size != size || info.Epoch != 0 || info.ExtentSize != ExtentSize || info.Extents() != 4 {
		t.Fatalf("info %+v", info)
	}

	t.Run("write and read", func(t *testing.T) {
		data := randBytes(1, 3*ExtentSize/2)
		must(t, h.Write(bg, id, 1, ExtentSize/2, data, false))
		wantBytes(t, mustRead(t, h, id, ExtentSize/2, len(data)), data, "read back")
		must(t, h.Write(bg, id, 1, size-4096, data[:4096], true))
		wantBytes(t, mustRead(t, h, id, size-4096, 4096), data[:4096], "tail read back")
		must(t, h.Flush(bg, id, 1))
		wantBytes(t, mustRead(t, h, id, 0, 512), make([]byte, 512), "unwritten reads as zeros")
	})

	t.Run("epoch fencing", func(t *testing.T) {
		must(t, h.Write(bg, id, 5, 0, []byte("new primary"), false))
		wantErr(t, h.Write(bg, id, 4, 0, []byte("old primary"), false), ErrStaleEpoch, "write at an older epoch")
		wantErr(t, h.Flush(bg, id, 4), ErrStaleEpoch, "flush at an older epoch")
		wantErr(t, h.Zero(bg, id, 4, 0, 512, false), ErrStaleEpoch, "zero at an older epoch")
		wantErr(t, h.WriteExtent(bg, id, 4, 0, make([]byte, ExtentSize)), ErrStaleEpoch, "writeextent at an older epoch")
		wantErr(t, h.MarkDirty(bg, id, 4, "b", []Run{{0, 1}}), ErrStaleEpoch, "markdirty at an older epoch")
		wantErr(t, h.Grow(bg, id, 4, size+512), ErrStaleEpoch, "grow at an older epoch")
		wantBytes(t, mustRead(t, h, id, 0, 11), []byte("new primary"), "the stale write did not land")
		info, err := h.Info(bg, id)
		must(t, err)
		if info.Epoch != 5 {
			t.Fatalf("epoch %d, want 5", info.Epoch)
		}
	})

	t.Run("bounds", func(t *testing.T) {
		p := make([]byte, 4096)
		wantErr(t, h.Read(bg, id, -1, p), ErrOutOfRange, "negative offset")
		wantErr(t, h.Read(bg, id, size-100, p), ErrOutOfRange, "read past the end")
		wantErr(t, h.Write(bg, id, 5, size, p, false), ErrOutOfRange, "write past the end")
		wantErr(t, h.Write(bg, id, 5, 1<<62, p, false), ErrOutOfRange, "huge offset")
		wantErr(t, h.Zero(bg, id, 5, 0, size+1, false), ErrOutOfRange, "zero past the end")
		wantErr(t, h.Zero(bg, id, 5, 10, -1, false), ErrOutOfRange, "negative zero length")
		wantErr(t, h.Read(bg, "../etc", 0, p), ErrInvalidArgument, "path in an ID")
		wantErr(t, h.Read(bg, "vol-none", 0, p), ErrNotFound, "missing volume")
		wantErr(t, h.Create(bg, "vol-odd", 1000), ErrInvalidArgument, "size not a multiple of 512")
		wantErr(t, h.Create(bg, "vol-zero", 0), ErrInvalidArgument, "size 0")
		wantErr(t, h.Grow(bg, id, 5, size-512), ErrInvalidArgument, "shrink")
		_, err := h.ReadExtent(bg, id, 4)
		wantErr(t, err, ErrOutOfRange, "extent past the end")
		wantErr(t, h.WriteExtent(bg, id, 5, 0, make([]byte, 100)), ErrInvalidArgument, "extent of the wrong length")
		_, err = h.ExtentSums(bg, id, -1, 1)
		wantErr(t, err, ErrInvalidArgument, "sums from a negative extent")
		wantErr(t, h.MarkDirty(bg, id, 5, "b", []Run{{3, 2}}), ErrOutOfRange, "dirty run past the end")
		wantErr(t, h.MarkDirty(bg, id, 5, "", []Run{{0, 1}}), ErrInvalidArgument, "no peer")
	})

	t.Run("extents and sums", func(t *testing.T) {
		sums, err := h.ExtentSums(bg, id, 0, 100)
		must(t, err)
		if len(sums) != 4 {
			t.Fatalf("%d sums for 4 extents", len(sums))
		}
		e1, err := h.ReadExtent(bg, id, 1)
		must(t, err)
		wantBytes(t, e1, mustRead(t, h, id, ExtentSize, ExtentSize), "extent 1")
		last, err := h.ReadExtent(bg, id, 3)
		must(t, err)
		if len(last) != 8192 {
			t.Fatalf("last extent is %d bytes, want 8192", len(last))
		}
		// Copy extent 1 over extent 2: their sums become equal.
		must(t, h.WriteExtent(bg, id, 5, 2, e1))
		sums, err = h.ExtentSums(bg, id, 1, 2)
		must(t, err)
		if sums[0] != sums[1] {
			t.Fatal("identical extents have different sums")
		}
		// Zeroing whole extents makes them read as zeros and sum as a hole.
		must(t, h.Zero(bg, id, 5, ExtentSize, 2*ExtentSize, true))
		must(t, h.WriteExtent(bg, id, 5, 3, make([]byte, 8192)))
		wantBytes(t, mustRead(t, h, id, ExtentSize, 4096), make([]byte, 4096), "zeroed")
		sums, err = h.ExtentSums(bg, id, 1, 3)
		must(t, err)
		if sums[0] != zeroSum(ExtentSize) || sums[1] != zeroSum(ExtentSize) || sums[2] != zeroSum(8192) {
			t.Fatal("zeroed extents do not sum as zeros")
		}
	})

	t.Run("dirty sets", func(t *testing.T) {
		must(t, h.MarkDirty(bg, id, 5, "box-b", []Run{{0, 1}, {2, 2}}))
		must(t, h.MarkDirty(bg, id, 5, "box-c", []Run{{1, 1}}))
		must(t, h.ClearDirty(bg, id, 5, "box-b", []Run{{2, 1}}))
		must(t, h.ClearDirty(bg, id, 5, "box-c", []Run{{0, 4}}))
		d, err := h.Dirty(bg, id)
		must(t, err)
		if len(d) != 1 || len(d["box-b"]) != 2 || d["box-b"][0] != (Run{0, 1}) || d["box-b"][1] != (Run{3, 1}) {
			t.Fatalf("dirty %v", d)
		}
	})

	t.Run("grow", func(t *testing.T) {
		must(t, h.Grow(bg, id, 5, size+ExtentSize))
		info, err := h.Info(bg, id)
		must(t, err)
		if info.Size != size+ExtentSize || info.Extents() != 5 {
			t.Fatalf("after grow: %+v", info)
		}
		wantBytes(t, mustRead(t, h, id, size, 4096), make([]byte, 4096), "grown part")
	})

	t.Run("list and delete", func(t *testing.T) {
		must(t, h.Create(bg, "vol-other", 1<<20))
		l, err := h.List(bg)
		must(t, err)
		if len(l) != 2 || l[0].ID != "vol-other" || l[1].ID != id {
			t.Fatalf("list %+v", l)
		}
		must(t, h.Delete(bg, "vol-other"))
		wantErr(t, h.Delete(bg, "vol-other"), ErrNotFound, "second delete")
		_, err = h.Info(bg, "vol-other")
		wantErr(t, err, ErrNotFound, "info after delete")
	})
}

func TestStoreHolder(t *testing.T) { holderSuite(t, mustNewStore(t)) }

func TestRemoteHolder(t *testing.T) {
	r, _ := mustRemote(t, mustNewStore(t))
	holderSuite(t, r)
}
