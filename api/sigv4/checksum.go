package sigv4

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
)

// crc64NVMEPoly is the CRC-64/NVME polynomial 0xAD93D23594C93659 bit-reversed, the form
// hash/crc64 wants. crc64 already starts from and finishes with all ones, which is exactly
// CRC-64/NVME's init and xorout, so no wrapper is needed (check value for "123456789" is
// 0xAE8B14860A799888; see the test).
const crc64NVMEPoly = 0x9a6c9329ac4bc9b5

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	nvme       = crc64.MakeTable(crc64NVMEPoly)
)

// checksumAlgorithm is one of S3's flexible checksums, by the name of the header or trailer
// that carries it (base64 of the big-endian digest).
type checksumAlgorithm struct {
	label string // as S3 names it in messages
	new   func() hash.Hash
}

var checksumAlgorithms = map[string]checksumAlgorithm{
	"x-amz-checksum-crc32":     {"CRC32", func() hash.Hash { return crc32.NewIEEE() }},
	"x-amz-checksum-crc32c":    {"CRC32C", func() hash.Hash { return crc32.New(castagnoli) }},
	"x-amz-checksum-crc64nvme": {"CRC64NVME", func() hash.Hash { return crc64.New(nvme) }},
	"x-amz-checksum-sha1":      {"SHA1", sha1.New},
	"x-amz-checksum-sha256":    {"SHA256", sha256.New},
}

// trailerChecksum is a checksum being computed over a decoded body, to be compared with the
// trailer of the same name at the end.
type trailerChecksum struct {
	name string
	alg  checksumAlgorithm
	h    hash.Hash
}

// check compares the computed digest with the trailer value sent by the client.
func (c *trailerChecksum) check(sent string) error {
	want, err := base64.StdEncoding.DecodeString(sent)
	if err != nil || len(want) != c.h.Size() {
		return InvalidRequest.WithMessage("Value for %s trailing header is invalid.", c.name)
	}
	var buf [sha256.Size]byte
	if got := c.h.Sum(buf[:0]); string(got) != string(want) {
		return BadDigest.WithMessage("The %s you specified did not match the calculated checksum.", c.alg.label)
	}
	return nil
}
