package s3

import (
	"context"
	"io"

	"github.com/banyancloud/banyan/objectstore"
)

// PlainObjects is the object layer as an S3 client sees it: GetObject and HeadObject of a
// version stored with SSE-S3 answer its plaintext and plaintext sizes, as a GET through
// the front door does. Server-side readers of customers' objects (ImportImage's
// importer) read through it; a version stored with SSE-C cannot be read without its
// customer's key and answers the front door's error for that. Everything else passes
// through to objects, so writes stay as they are (unencrypted system objects read back
// unchanged).
func PlainObjects(objects objectstore.ObjectLayer, clusterKey []byte) objectstore.ObjectLayer {
	return plainObjects{ObjectLayer: objects, f: &Frontend{objects: objects, SSEKey: clusterKey}}
}

type plainObjects struct {
	objectstore.ObjectLayer
	f *Frontend
}

func (p plainObjects) GetObject(ctx context.Context, bucket, key string, opts objectstore.GetOptions) (objectstore.ObjectInfo, io.ReadCloser, error) {
	return p.f.openObject(ctx, bucket, key, opts, nil, false)
}

func (p plainObjects) HeadObject(ctx context.Context, bucket, key string, opts objectstore.GetOptions) (objectstore.ObjectInfo, error) {
	info, _, err := p.f.openObject(ctx, bucket, key, opts, nil, true)
	return info, err
}
