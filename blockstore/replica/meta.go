package replica

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/fxamacker/cbor/v2"
)

const (
	metaMagic  = "BNYV"
	metaFormat = 1
	// maxMetaSize bounds a metadata file: dirty maps of a 64 TiB volume for
	// a few peers fit many times over.
	maxMetaSize = 64 << 20
)

// meta is the content of a volume's .meta file. Field numbers are the
// format: append, never reuse.
type meta struct {
	ID         string `cbor:"1,keyasint"`
	Size       int64  `cbor:"2,keyasint"`
	Epoch      uint64 `cbor:"3,keyasint"`
	ExtentSize int64  `cbor:"4,keyasint"`
	// Dirty maps a peer box to the extents this copy holds newer than it.
	Dirty map[string][]Run `cbor:"5,keyasint,omitempty"`
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
	crcTab  = crc32.MakeTable(crc32.Castagnoli)
)

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		MaxArrayElements: 1 << 22,
		MaxMapPairs:      1 << 16,
		MaxNestedLevels:  8,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

func encodeMeta(m *meta) ([]byte, error) {
	body, err := encMode.Marshal(m)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 10+len(body)+4)
	b = append(b, metaMagic...)
	b = binary.LittleEndian.AppendUint16(b, metaFormat)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(body)))
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTab)), nil
}

func decodeMeta(b []byte) (*meta, error) {
	if len(b) < 14 || string(b[:4]) != metaMagic {
		return nil, fmt.Errorf("%w: not a volume metadata file", ErrCorrupt)
	}
	if f := binary.LittleEndian.Uint16(b[4:]); f != metaFormat {
		return nil, fmt.Errorf("%w: metadata format %d, this binary reads %d", ErrCorrupt, f, metaFormat)
	}
	n := int64(binary.LittleEndian.Uint32(b[6:]))
	if int64(len(b)) != 10+n+4 {
		return nil, fmt.Errorf("%w: metadata length %d in a file of %d bytes", ErrCorrupt, n, len(b))
	}
	if crc32.Checksum(b[:10+n], crcTab) != binary.LittleEndian.Uint32(b[10+n:]) {
		return nil, fmt.Errorf("%w: metadata checksum mismatch", ErrCorrupt)
	}
	var m meta
	if err := decMode.Unmarshal(b[10:10+n], &m); err != nil {
		return nil, fmt.Errorf("%w: metadata undecodable: %v", ErrCorrupt, err)
	}
	if ValidID(m.ID) != nil || m.Size <= 0 || m.Size > MaxSize || m.ExtentSize != ExtentSize {
		return nil, fmt.Errorf("%w: metadata values out of range (id %q, size %d, extent size %d)", ErrCorrupt, m.ID, m.Size, m.ExtentSize)
	}
	for peer, runs := range m.Dirty {
		if validPeer(peer) != nil || checkRuns(runs, Extents(m.Size)) != nil {
			return nil, fmt.Errorf("%w: dirty map of peer %q out of range", ErrCorrupt, peer)
		}
	}
	return &m, nil
}

func readMeta(path string) (*meta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxMetaSize {
		return nil, fmt.Errorf("%w: metadata file of %d bytes", ErrCorrupt, st.Size())
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, err
	}
	return decodeMeta(b)
}

// writeMeta replaces path with m atomically and durably: write a temporary
// file, fsync it, rename it over path, fsync the directory. A crash at any
// point leaves the old file or the new one.
func writeMeta(path string, m *meta) error {
	b, err := encodeMeta(m)
	if err != nil {
		return fmt.Errorf("%w: encoding metadata: %v", ErrInvalidArgument, err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fsError("writing metadata", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = renameHook(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fsError("writing metadata", err)
	}
	return fsError("syncing the volumes folder", fsyncDir(filepath.Dir(path)))
}

// renameHook is os.Rename; tests replace it to simulate a crash before the
// rename takes effect.
var renameHook = os.Rename

func fsyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
