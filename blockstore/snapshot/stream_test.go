package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/banyancloud/banyan/blockstore/replica"
)

// TestStreamSourceImage: an image read as a stream whose size is not a multiple of the
// extent size, with all-zero extents inside it, becomes a snapshot of a larger size:
// only the extents holding data are stored, the tail of the image's last extent and
// every extent past it read back as zeros, and the bytes read back are the image's.
func TestStreamSourceImage(t *testing.T) {
	const size = 6 * replica.ExtentSize // the snapshot: six extents
	dataSize := int64(2*replica.ExtentSize + 12345)
	img := make([]byte, dataSize)
	pattern(img[:replica.ExtentSize], 0, 3) // extent 0 has data, extent 1 is zeros
	for i := int64(2 * replica.ExtentSize); i < dataSize; i++ {
		img[i] = byte(i) | 1 // extent 2, 12345 bytes of it
	}
	st := newMemStore()
	// One byte a Read, so every extent needs many reads (io.ReadFull's job).
	src, err := NewStreamSource(iotest.OneByteReader(bytes.NewReader(img)), dataSize, size)
	if err != nil {
		t.Fatal(err)
	}
	m, stats, err := Take(bg, src, st, TakeOptions{SnapshotID: "snap-img", VolumeID: "vol-ffffffff", Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	if m.Size != size || stats.Extents != 6 || stats.Uploaded != 2 || stats.Zero != 4 || stats.StoredBytes != 2*replica.ExtentSize {
		t.Fatalf("manifest of %d bytes, stats %+v: want 6 extents, 2 stored, 4 zero", m.Size, stats)
	}
	if keys := st.extentKeys(); len(keys) != 2 {
		t.Fatalf("stored extents %v, want 2", keys)
	}
	if m.Extents[0].Zero() || !m.Extents[1].Zero() || m.Extents[2].Zero() || !m.Extents[3].Zero() || !m.Extents[5].Zero() {
		t.Fatalf("zero map of the manifest is wrong: %+v", m.Extents)
	}
	stored, err := LoadManifest(bg, st, "snap-img")
	if err != nil {
		t.Fatal(err)
	}
	back := readAll(t, st, stored)
	want := append(bytes.Clone(img), make([]byte, size-dataSize)...)
	if !bytes.Equal(back, want) {
		t.Fatal("the snapshot does not read back as the image followed by zeros")
	}
}

// TestStreamSourceRefuses: a stream shorter than it said fails the snapshot (and no
// manifest is written), extents out of order are refused, and a snapshot smaller than
// its image cannot be made.
func TestStreamSourceRefuses(t *testing.T) {
	st := newMemStore()
	short := make([]byte, replica.ExtentSize+10)
	short[0] = 1
	src, err := NewStreamSource(bytes.NewReader(short), 3*replica.ExtentSize, 4*replica.ExtentSize)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Take(bg, src, st, TakeOptions{SnapshotID: "snap-short", Attempt: 1})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a stream that ends early: %v, want an unexpected EOF", err)
	}
	if _, err := st.Get(bg, ManifestKey("snap-short")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a failed stream left a manifest: %v", err)
	}

	src, _ = NewStreamSource(bytes.NewReader(short), int64(len(short)), 2*replica.ExtentSize)
	if _, err := src.ReadExtent(bg, 1); err == nil {
		t.Fatal("extent 1 read before extent 0")
	}
	if _, err := src.ReadExtent(bg, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := src.ReadExtent(bg, 0); err == nil {
		t.Fatal("extent 0 read twice")
	}
	cancelled, cancel := context.WithCancel(bg)
	cancel()
	if _, err := src.ReadExtent(cancelled, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v", err)
	}
	if _, err := NewStreamSource(bytes.NewReader(short), 10, 9); err == nil {
		t.Fatal("a snapshot smaller than its image was accepted")
	}
}
