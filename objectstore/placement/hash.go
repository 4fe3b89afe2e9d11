package placement

import (
	"encoding/binary"

	"github.com/minio/highwayhash"
)

// The keys below, the input framing of objectHash and diskHash, and mix are
// part of the placement format: change any of them and every existing object
// is looked for on the wrong disks (golden_test.go pins them with golden
// sets). They only need to be stable and well mixed, not secret.
var (
	objectKey = [highwayhash.Size]byte{
		0xaf, 0xdb, 0x34, 0x17, 0x84, 0x91, 0xfd, 0x4a, 0x57, 0x8c, 0xad, 0x53, 0xab, 0x6c, 0xaa, 0x2b,
		0x23, 0x01, 0xe0, 0x97, 0x7c, 0xfe, 0x4a, 0x80, 0xdd, 0x3a, 0xea, 0x23, 0x94, 0xc9, 0xd8, 0x21,
	}
	diskKey = [highwayhash.Size]byte{
		0xa7, 0x20, 0x6e, 0xc2, 0x08, 0xcd, 0x95, 0x16, 0xbe, 0xde, 0x3f, 0x6a, 0xa1, 0x18, 0x16, 0x65,
		0x83, 0x07, 0x4c, 0xef, 0x04, 0x35, 0x03, 0x7b, 0xaf, 0x51, 0x77, 0xaf, 0xed, 0x85, 0xe0, 0xce,
	}
)

// objectHash is HighwayHash-64 of uvarint(len(bucket)) || bucket || object,
// so that no two (bucket, object) pairs frame to the same bytes.
// HighwayHash is used because its output is fixed by its specification
// (unlike hash/maphash, whose seeds and results are per process).
func objectHash(bucket, object string) uint64 {
	var stack [256]byte
	b := binary.AppendUvarint(stack[:0], uint64(len(bucket)))
	b = append(b, bucket...)
	b = append(b, object...)
	return highwayhash.Sum64(b, objectKey[:])
}

// diskHash is HighwayHash-64 of the disk ID, computed once per Topology.
func diskHash(id string) uint64 {
	return highwayhash.Sum64([]byte(id), diskKey[:])
}

// mix is the rendezvous draw of one disk for one object: both inputs are
// already uniform 64-bit hashes, and the SplitMix64 finalizer (Stafford's
// "Mix13" constants) turns their XOR into an independent-looking value, so a
// placement costs one HighwayHash of the name plus a few multiplications per
// disk instead of one HighwayHash per disk. mix is a bijection for a fixed
// object, so two disks tie only if their ID hashes collide.
func mix(object, disk uint64) uint64 {
	z := object ^ disk
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
