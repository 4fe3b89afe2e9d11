package snapshot

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/banyancloud/banyan/blockstore/replica"
)

var bg = context.Background()

// memStore is a test double of the object store: a map, counting Puts.
type memStore struct {
	mu   sync.Mutex
	objs map[string][]byte
	puts atomic.Int64
}

func newMemStore() *memStore { return &memStore{objs: map[string][]byte{}} }

func (s *memStore) Put(_ context.Context, key string, data []byte) error {
	s.puts.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objs[key] = slices.Clone(data)
	return nil
}

func (s *memStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objs[key]
	if !ok {
		return nil, ErrNotFound
	}
	return slices.Clone(b), nil
}

func (s *memStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objs, key)
	return nil
}

func (s *memStore) List(_ context.Context, prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, k := range slices.Sorted(maps.Keys(s.objs)) {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out, nil
}

func (s *memStore) extentKeys() []string {
	keys, _ := s.List(bg, "extents/")
	return keys
}

// bytesSource is a Source over a byte slice.
type bytesSource []byte

func (b bytesSource) Size() int64 { return int64(len(b)) }

func (b bytesSource) ReadExtent(_ context.Context, n int64) ([]byte, error) {
	off := n * replica.ExtentSize
	return slices.Clone(b[off : off+replica.ExtentLen(int64(len(b)), n)]), nil
}

// pattern fills extent n of buf with bytes derived from seed.
func pattern(buf []byte, n int64, seed byte) {
	off := n * replica.ExtentSize
	for i := int64(0); i < replica.ExtentLen(int64(len(buf)), n); i++ {
		buf[off+i] = byte(i*7) ^ seed ^ byte(n)
	}
}
