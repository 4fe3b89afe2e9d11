package disk

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/fxamacker/cbor/v2"
)

// The metadata file format (see doc.go):
//
//	magic(4) | format(2) | H(4) | header(H) | crc32c(4) | inline data | crc32c(4)
const (
	metaMagic    = "BNYM"
	metaFormat   = 1
	metaPrelude  = 4 + 2 + 4
	metaOverhead = metaPrelude + 4 + 4
	// maxMetaSize bounds what ReadMetadata loads into memory. The S3 layer
	// keeps objects inline only when small and few versions are inline, so
	// a real file is far smaller; anything larger is refused on write and
	// treated as corrupt on read.
	maxMetaSize = 64 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// metaHeader is what the header section holds: the versions without their
// inline bytes, and how many inline bytes each one has in the data section.
type metaHeader struct {
	Versions  []Version `cbor:"1,keyasint"`
	InlineLen []int64   `cbor:"2,keyasint"`
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	eo := cbor.CoreDetEncOptions()
	eo.Time = cbor.TimeRFC3339NanoUTC // full precision; the default drops sub-seconds
	var err error
	if encMode, err = eo.EncMode(); err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 20,
		// Keys and prefixes are bytes to this package; the S3 layer
		// decides what is valid UTF-8.
		UTF8: cbor.UTF8DecodeInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// encodeMeta renders m as a metadata file.
func encodeMeta(m *ObjectMeta) ([]byte, error) {
	h := metaHeader{Versions: make([]Version, len(m.Versions)), InlineLen: make([]int64, len(m.Versions))}
	inline := 0
	for i, v := range m.Versions {
		h.InlineLen[i] = int64(len(v.Inline))
		inline += len(v.Inline)
		v.Inline = nil
		h.Versions[i] = v
	}
	hdr, err := encMode.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding metadata: %v", ErrInvalidArgument, err)
	}
	size := metaOverhead + len(hdr) + inline
	if size > maxMetaSize {
		return nil, fmt.Errorf("%w: metadata file of %d bytes exceeds %d; keep fewer versions inline", ErrInvalidArgument, size, maxMetaSize)
	}
	b := make([]byte, 0, size)
	b = append(b, metaMagic...)
	b = binary.LittleEndian.AppendUint16(b, metaFormat)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(hdr)))
	b = append(b, hdr...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
	for _, v := range m.Versions {
		b = append(b, v.Inline...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable)), nil
}

// headerSpan checks the prelude of a metadata file and returns the length of
// the prefix that holds the header and its checksum. prelude must hold at
// least metaPrelude bytes; fileSize is the whole file's length.
func headerSpan(prelude []byte, fileSize int64) (int64, error) {
	if fileSize < metaOverhead || len(prelude) < metaPrelude {
		return 0, fmt.Errorf("%w: metadata file of %d bytes is truncated", ErrFileCorrupt, fileSize)
	}
	if string(prelude[:4]) != metaMagic {
		return 0, fmt.Errorf("%w: not a metadata file (magic %q)", ErrFileCorrupt, prelude[:4])
	}
	switch f := binary.LittleEndian.Uint16(prelude[4:6]); {
	case f > metaFormat:
		return 0, fmt.Errorf("%w: metadata format %d, this binary reads up to %d", ErrFormatUnsupported, f, metaFormat)
	case f < metaFormat:
		return 0, fmt.Errorf("%w: metadata format %d", ErrFileCorrupt, f)
	}
	end := int64(metaPrelude) + int64(binary.LittleEndian.Uint32(prelude[6:10])) + 4
	if end+4 > fileSize {
		return 0, fmt.Errorf("%w: header length runs past the end of the file", ErrFileCorrupt)
	}
	return end, nil
}

// decodeHeader checks and decodes the header prefix (headerSpan bytes).
func decodeHeader(b []byte) (*metaHeader, error) {
	n := len(b) - 4
	if crc32.Checksum(b[:n], crcTable) != binary.LittleEndian.Uint32(b[n:]) {
		return nil, fmt.Errorf("%w: metadata header checksum mismatch", ErrFileCorrupt)
	}
	var h metaHeader
	if err := decMode.Unmarshal(b[metaPrelude:n], &h); err != nil {
		return nil, fmt.Errorf("%w: metadata header: %v", ErrFileCorrupt, err)
	}
	if len(h.InlineLen) != len(h.Versions) {
		return nil, fmt.Errorf("%w: metadata header lists %d inline lengths for %d versions", ErrFileCorrupt, len(h.InlineLen), len(h.Versions))
	}
	for i := range h.Versions {
		// Written in UTC; a hand-edited or foreign file may say otherwise.
		h.Versions[i].ModTime = h.Versions[i].ModTime.UTC()
	}
	m := ObjectMeta{Versions: h.Versions}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFileCorrupt, err)
	}
	return &h, nil
}

// decodeMeta parses a whole metadata file.
func decodeMeta(b []byte) (*ObjectMeta, error) {
	end, err := headerSpan(b, int64(len(b)))
	if err != nil {
		return nil, err
	}
	n := len(b) - 4
	if crc32.Checksum(b[:n], crcTable) != binary.LittleEndian.Uint32(b[n:]) {
		return nil, fmt.Errorf("%w: metadata file checksum mismatch", ErrFileCorrupt)
	}
	h, err := decodeHeader(b[:end])
	if err != nil {
		return nil, err
	}
	data := b[end:n]
	for i, l := range h.InlineLen {
		if l < 0 || l > int64(len(data)) {
			return nil, fmt.Errorf("%w: inline data of version %d runs past the end of the file", ErrFileCorrupt, i)
		}
		if l > 0 {
			// A window on the file's buffer, not a copy: inline data is
			// most of the file, and copying it doubled ReadMetadata's
			// cost. Capped so an append cannot spill into the next one.
			// An empty inline object stays nil, as it reads back after
			// the RPC hop.
			h.Versions[i].Inline = data[:l:l]
		}
		data = data[l:]
	}
	if len(data) != 0 {
		return nil, fmt.Errorf("%w: %d stray bytes after the inline data", ErrFileCorrupt, len(data))
	}
	return &ObjectMeta{Versions: h.Versions}, nil
}

// headerMeta turns a decoded header into the metadata Walk reports: versions
// without inline bytes.
func (h *metaHeader) meta() *ObjectMeta { return &ObjectMeta{Versions: h.Versions} }
