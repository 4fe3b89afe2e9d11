package objectstore

import "io"

// Sealer encrypts an object's (or one part's) bytes on their way to the disks:
// server-side encryption, which the S3 front end sets up per request (keys,
// objectstore/sse's format). The store computes the ETag, Content-MD5 and checksums
// over the body as sent, then stores what Seal yields; the version's Size (and each
// part's) is the stored size, SealedSize of the body's, so that erasure coding, healing
// and relocation handle the stored bytes like any others. Reads return the stored
// bytes: the front end decrypts them.
type Sealer interface {
	// SealedSize is the stored size of plain body bytes (-1 for -1: unknown).
	SealedSize(plain int64) int64
	// Seal returns the stored form of plain, which yields size bytes (size < 0: until EOF).
	Seal(plain io.Reader, size int64) io.Reader
	// ETag is the ETag to store for a body whose MD5 is md5hex (SSE-C objects must not
	// show the MD5 of their plaintext).
	ETag(md5hex string) string
}

// sealBody turns body r of size bytes into what the disks get: r itself, or with a
// sealer its sealed form, the digester fed the plain bytes as the sealer reads them.
// It returns the source to encode, its size, and the sink splitBody feeds.
func sealBody(r io.Reader, size int64, dig *digester, sealer Sealer) (io.Reader, int64, io.Writer) {
	if sealer == nil {
		return r, size, dig
	}
	return sealer.Seal(io.TeeReader(r, dig), size), sealer.SealedSize(size), io.Discard
}

// sealedETag is the ETag a version stores for a body whose MD5 is md5hex.
func sealedETag(sealer Sealer, md5hex string) string {
	if sealer == nil {
		return md5hex
	}
	return sealer.ETag(md5hex)
}

// sealedSize is the stored size of a PUT's body.
func sealedSize(opts PutOptions) int64 {
	if opts.Sealer == nil {
		return opts.Size
	}
	return opts.Sealer.SealedSize(opts.Size)
}
