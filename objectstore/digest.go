package objectstore

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strings"
)

// crc64NVME is the CRC-64/NVME table (polynomial 0xAD93D23594C93659,
// reflected), the CRC64NVME checksum of S3. hash/crc64 already applies
// the all-ones initial value and final xor the algorithm specifies.
var crc64NVME = crc64.MakeTable(0x9A6C9329AC4BC9B5)

// newChecksum returns the hash of an S3 flexible checksum algorithm.
func newChecksum(algo string) (hash.Hash, error) {
	switch strings.ToUpper(algo) {
	case "CRC32":
		return crc32.NewIEEE(), nil
	case "CRC32C":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli)), nil
	case "SHA1":
		return sha1.New(), nil
	case "SHA256":
		return sha256.New(), nil
	case "CRC64NVME":
		return crc64.New(crc64NVME), nil
	}
	return nil, fmt.Errorf("objectstore: unknown checksum algorithm %q; use CRC32, CRC32C, SHA1, SHA256 or CRC64NVME", algo)
}

// digester computes what S3 reports about a body: its MD5 (the ETag) and
// the requested flexible checksum.
type digester struct {
	md5  hash.Hash
	algo string
	sum  hash.Hash
}

func newDigester(algo string) (*digester, error) {
	d := &digester{md5: md5.New(), algo: strings.ToUpper(algo)}
	if algo != "" {
		h, err := newChecksum(algo)
		if err != nil {
			return nil, err
		}
		d.sum = h
	}
	return d, nil
}

func (d *digester) Write(p []byte) (int, error) {
	d.md5.Write(p)
	if d.sum != nil {
		d.sum.Write(p)
	}
	return len(p), nil
}

// finish checks the client's Content-MD5 and checksum against the body and
// returns the ETag and the checksums to store.
func (d *digester) finish(wantMD5 []byte, wantChecksum string) (etag string, sums map[string]string, err error) {
	m := d.md5.Sum(nil)
	if wantMD5 != nil && !bytes.Equal(m, wantMD5) {
		return "", nil, ErrBadDigest
	}
	if d.sum != nil {
		got := base64.StdEncoding.EncodeToString(d.sum.Sum(nil))
		if wantChecksum != "" && got != wantChecksum {
			return "", nil, fmt.Errorf("%w: %s is %s, the request says %s", ErrChecksumMismatch, d.algo, got, wantChecksum)
		}
		sums = map[string]string{d.algo: got}
	}
	return hex.EncodeToString(m), sums, nil
}
