package disk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

func sampleMeta() *ObjectMeta {
	m := &ObjectMeta{}
	a := version("a", 1)
	a.DataDir = newUUID()
	a.Parts = []Part{{Number: 1, Size: 10, ETag: "x"}, {Number: 2, Size: 3}}
	b := version("b", 2)
	b.Inline = []byte("bbb")
	c := version("", 3)
	c.Inline = bytes.Repeat([]byte("c"), 5000)
	d := version("d", 4)
	d.IsDeleteMarker, d.Erasure = true, ErasureInfo{}
	e := version("e", 5) // empty inline object
	for _, v := range []Version{a, b, c, d, e} {
		m.AddVersion(v)
	}
	return m
}

func TestMetaFileRoundTrip(t *testing.T) {
	m := sampleMeta()
	b, err := encodeMeta(m)
	must(t, err)
	got, err := decodeMeta(b)
	must(t, err)
	equalMeta(t, got, m)
	// The header alone gives the versions without their inline bytes.
	end, err := headerSpan(b, int64(len(b)))
	must(t, err)
	h, err := decodeHeader(b[:end])
	must(t, err)
	stripped := m.Clone()
	for i := range stripped.Versions {
		stripped.Versions[i].Inline = nil
	}
	equalMeta(t, h.meta(), stripped)
	if int(end) > len(b)-5000 {
		t.Fatalf("header of %d bytes includes inline data (file %d)", end, len(b))
	}
}

// TestMetaFileDamage flips, truncates and extends a metadata file at every
// position: decoding must fail with ErrFileCorrupt, never panic or succeed.
func TestMetaFileDamage(t *testing.T) {
	m := &ObjectMeta{}
	v := version("x", 1)
	v.Inline = []byte("hello")
	m.AddVersion(v)
	good, err := encodeMeta(m)
	must(t, err)
	check := func(what string, b []byte) {
		t.Helper()
		if _, err := decodeMeta(b); !errors.Is(err, ErrFileCorrupt) && !errors.Is(err, ErrFormatUnsupported) {
			t.Fatalf("%s: decode gave %v", what, err)
		}
	}
	for i := range good {
		b := bytes.Clone(good)
		b[i] ^= 1 << (i % 8)
		check("flip", b)
		check("truncate", good[:i])
	}
	check("extend", append(bytes.Clone(good), 0))
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := bytes.Clone(good)
		for range 1 + r.IntN(8) {
			b[r.IntN(len(b))] = byte(r.Uint32())
		}
		if !bytes.Equal(b, good) {
			check("random", b)
		}
	}
}

// FuzzDecodeMeta feeds arbitrary headers and inline sections with valid
// checksums, so that the fuzzer gets past the CRCs into the CBOR decoder
// and the checks after it.
func FuzzDecodeMeta(f *testing.F) {
	good, _ := encodeMeta(sampleMeta())
	end, _ := headerSpan(good, int64(len(good)))
	f.Add(good[metaPrelude:end-4], good[end:len(good)-4])
	f.Add([]byte{0xa0}, []byte{})
	f.Fuzz(func(t *testing.T, header, inline []byte) {
		b := []byte(metaMagic)
		b = binary.LittleEndian.AppendUint16(b, metaFormat)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
		b = append(b, header...)
		b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
		b = append(b, inline...)
		b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
		m, err := decodeMeta(b)
		if err != nil {
			if !errors.Is(err, ErrFileCorrupt) {
				t.Fatalf("decode error without ErrFileCorrupt: %v", err)
			}
			return
		}
		if m.Validate() != nil {
			t.Fatalf("decoded invalid metadata %+v", m)
		}
		// Whatever decodes must encode back to a file that decodes the
		// same.
		again, err := encodeMeta(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := decodeMeta(again)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-encoding changed the metadata: %v\n%+v\n%+v", err, m, m2)
		}
	})
}

func TestMetaTooLarge(t *testing.T) {
	m := &ObjectMeta{}
	for i := range 9 {
		v := version(string(rune('a'+i)), i)
		v.Inline = make([]byte, 8<<20)
		m.AddVersion(v)
	}
	if _, err := encodeMeta(m); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("72 MiB of inline data: %v", err)
	}
}

func TestAddVersionOrderIsDeterministic(t *testing.T) {
	var vs []Version
	for i := range 20 {
		// Same ModTime for pairs: VersionID breaks the tie.
		vs = append(vs, version(string(rune('a'+i)), i/2))
	}
	var first []string
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		r.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
		m := &ObjectMeta{}
		for _, v := range vs {
			m.AddVersion(v)
		}
		var ids []string
		for _, v := range m.Versions {
			ids = append(ids, v.VersionID)
		}
		if first == nil {
			first = ids
		} else if !slices.Equal(ids, first) {
			t.Fatalf("order depends on arrival: %v vs %v", ids, first)
		}
	}
	if first[0] != "t" || first[1] != "s" || first[19] != "a" {
		t.Fatalf("order %v", first)
	}
}

func TestMetaHelpers(t *testing.T) {
	m := &ObjectMeta{}
	if _, ok := m.Latest(); ok {
		t.Fatal("empty meta has a latest version")
	}
	local := time.FixedZone("x", 3600)
	v := version("", 1)
	v.ModTime = v.ModTime.In(local)
	m.AddVersion(v)
	if got := m.Versions[0].ModTime; got.Location() != time.UTC || !got.Equal(v.ModTime) {
		t.Fatalf("ModTime stored as %v", got)
	}
	v2 := version("", 2)
	old, replaced := m.AddVersion(v2)
	if !replaced || !old.ModTime.Equal(v.ModTime) || len(m.Versions) != 1 {
		t.Fatalf("replacing the null version: %v %+v", replaced, m.Versions)
	}
	c := m.Clone()
	c.Versions[0].UserMeta["owner"] = "changed"
	c.Versions[0].Erasure.Disks[0] = "changed"
	if m.Versions[0].UserMeta["owner"] != "test" || m.Versions[0].Erasure.Disks[0] != "d0" {
		t.Fatal("Clone shares maps or slices")
	}
	if _, ok := m.RemoveVersion("nope"); ok {
		t.Fatal("removed a missing version")
	}
	if _, ok := m.RemoveVersion(""); !ok || len(m.Versions) != 0 {
		t.Fatal("RemoveVersion")
	}
	var nilMeta *ObjectMeta
	if _, ok := nilMeta.FindVersion(""); ok || nilMeta.References(newUUID()) {
		t.Fatal("nil meta finds things")
	}
}
