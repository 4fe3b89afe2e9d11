package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash/maphash"
	"sync"
)

// A signing key depends only on (secret, date, region, service) and costs four HMACs to
// derive, more than verifying the request itself; a client signs thousands of requests a
// day with the same one. The cache is sharded so concurrent requests rarely meet on a lock,
// and each shard is bounded so a flood of distinct keys can't grow memory.
const (
	keyShards        = 32
	keysPerShard     = 128
	signingKeyLength = sha256.Size
)

type keyID struct{ secret, date, region, service string }

type keyShard struct {
	mu   sync.RWMutex
	keys map[keyID][signingKeyLength]byte
}

type keyCache struct {
	seed   maphash.Seed
	shards [keyShards]keyShard
}

var signingKeys = newKeyCache()

func newKeyCache() *keyCache {
	c := &keyCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].keys = make(map[keyID][signingKeyLength]byte, keysPerShard)
	}
	return c
}

func (c *keyCache) get(secret, date, region, service string) [signingKeyLength]byte {
	id := keyID{secret, date, region, service}
	s := &c.shards[maphash.Comparable(c.seed, id)%keyShards]
	s.mu.RLock()
	k, ok := s.keys[id]
	s.mu.RUnlock()
	if ok {
		return k
	}
	k = deriveSigningKey(secret, date, region, service)
	s.mu.Lock()
	if len(s.keys) >= keysPerShard {
		// Evict whichever entry map iteration offers first: random enough to be fair and
		// O(1), and a miss only costs a derivation.
		for old := range s.keys {
			delete(s.keys, old)
			break
		}
	}
	s.keys[id] = k
	s.mu.Unlock()
	return k
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// deriveSigningKey is SigV4's kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region),
// service), "aws4_request").
func deriveSigningKey(secret, date, region, service string) [signingKeyLength]byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, scopeTerminal)
	return [signingKeyLength]byte(k)
}

// signature returns the lower-case hex HMAC-SHA256 of stringToSign under key.
func signature(key []byte, stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(key, stringToSign))
}
