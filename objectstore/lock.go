package objectstore

import (
	"context"
	"fmt"
	"sync"
)

// keyLocks serializes the commit step of writes to one key on this node:
// a conditional write checks the latest version and commits under the same
// lock, so two PUTs through this node cannot both pass If-None-Match "*".
// Locks are created on demand and dropped when unused, so memory follows
// the writes in flight, not the keys ever written.
//
// This is a node-local lock. Two nodes committing the same key at the same
// moment are not serialized by it; see the package doc for what that means.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

// lock takes the lock of name and returns its release.
func (k *keyLocks) lock(name string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[name]
	if l == nil {
		l = &keyLock{}
		k.locks[name] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, name)
		}
		k.mu.Unlock()
	}
}

// lockObject takes this node's lock of bucket/key and, when Options.Locker
// is set, the cluster's. Every commit, version delete, tag rewrite and
// heal of a key runs under it.
func (s *Store) lockObject(ctx context.Context, bucket, key string) (unlock func(), err error) {
	name := bucket + "/" + key
	local := s.locks.lock(name)
	if s.opts.Locker == nil {
		return local, nil
	}
	cluster, err := s.opts.Locker.Lock(ctx, name)
	if err != nil {
		local()
		return nil, fmt.Errorf("%w: locking %s: %w", ErrWriteQuorum, name, err)
	}
	return func() { cluster(); local() }, nil
}
