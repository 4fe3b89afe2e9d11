package protocol

import "math/rand/v2"

const hexDigits = "0123456789abcdef"

// NewRequestID returns a fresh request ID in the UUID (version 4) form IAM, STS, EC2 and
// the JSON services use. The top-level math/rand/v2 source is a per-thread ChaCha8
// generator seeded from the OS, so IDs are unpredictable enough to be unique across
// boxes without the syscall crypto/rand would cost on every request.
func NewRequestID() string {
	hi, lo := rand.Uint64(), rand.Uint64()
	hi = hi&^0xf000 | 0x4000     // version 4
	lo = lo&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	var b [36]byte
	put := func(pos int, v uint64, nibbles int) {
		for i := nibbles - 1; i >= 0; i-- {
			b[pos+i] = hexDigits[v&0xf]
			v >>= 4
		}
	}
	put(0, hi>>32, 8)
	b[8] = '-'
	put(9, hi>>16, 4)
	b[13] = '-'
	put(14, hi, 4)
	b[18] = '-'
	put(19, lo>>48, 4)
	b[23] = '-'
	put(24, lo, 12)
	return string(b[:])
}
