package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/banyancloud/banyan/objectstore"
)

// Store is where snapshot objects live: the object store's Bucket, or a double in tests.
type Store interface {
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the object's bytes, or an error matching ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Delete removes the object; deleting a missing object is no error.
	Delete(ctx context.Context, key string) error
	// List returns the keys under prefix.
	List(ctx context.Context, prefix string) ([]string, error)
}

// ErrNotFound: no such object.
var ErrNotFound = errors.New("snapshot: no such object")

// ObjectStore keeps snapshot objects in Bucket of an ObjectLayer (erasure coded like any
// object).
type ObjectStore struct {
	Objects objectstore.ObjectLayer
}

// Init creates the bucket (idempotent); call it before the other methods.
func (s ObjectStore) Init(ctx context.Context) error { return s.Objects.MakeBucket(ctx, Bucket) }

// Put implements Store.
func (s ObjectStore) Put(ctx context.Context, key string, data []byte) error {
	_, err := s.Objects.PutObject(ctx, Bucket, key, bytes.NewReader(data), objectstore.PutOptions{Size: int64(len(data)), ContentType: "application/octet-stream"})
	return err
}

// Get implements Store.
func (s ObjectStore) Get(ctx context.Context, key string) ([]byte, error) {
	_, body, err := s.Objects.GetObject(ctx, Bucket, key, objectstore.GetOptions{})
	if errors.Is(err, objectstore.ErrObjectNotFound) {
		return nil, errors.Join(ErrNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return io.ReadAll(body)
}

// Delete implements Store.
func (s ObjectStore) Delete(ctx context.Context, key string) error {
	_, err := s.Objects.DeleteObject(ctx, Bucket, key, objectstore.DeleteOptions{})
	if errors.Is(err, objectstore.ErrObjectNotFound) {
		return nil
	}
	return err
}

// List implements Store.
func (s ObjectStore) List(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	marker := ""
	for {
		res, err := s.Objects.ListObjects(ctx, Bucket, objectstore.ListOptions{Prefix: prefix, Marker: marker, MaxKeys: 1000})
		if err != nil {
			return nil, err
		}
		for _, o := range res.Objects {
			out = append(out, o.Key)
		}
		if !res.IsTruncated {
			return out, nil
		}
		marker = res.NextMarker
	}
}
