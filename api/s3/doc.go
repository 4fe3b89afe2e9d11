// Package s3 is Banyan's S3 front end: it speaks S3's rest-xml dialect (path-style and
// virtual-host-style addressing, subresource routing, S3's headers and error documents)
// and turns each request into calls on the object store's data plane
// (objectstore.ObjectLayer) and on the replicated bucket records (cluster/state).
//
// It owns S3's semantics above the bytes: bucket naming and lifecycle, who may do what
// (every request, anonymous ones included, is authorized with the bucket policy and the
// canned ACL as the resource policy), conditional requests, ranges, copy, multipart,
// versioning as the client sees it, tagging, CORS, lifecycle rules and object lock
// (the object store enforces each version's lock). It does not store
// object bytes or metadata (the object store does) nor authenticate (api/sigv4 does,
// before ServeS3 is called); errors from both are mapped to S3's codes in one table
// (errors.go).
package s3
