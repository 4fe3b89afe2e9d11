package s3

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/objectstore"
	"github.com/banyancloud/banyan/objectstore/sse"
)

// Server-side encryption of objects: SSE-S3 (x-amz-server-side-encryption: AES256),
// SSE-KMS with the account's managed key aws/s3 (aws:kms, ssekms.go) and SSE-C (the
// customer's key in x-amz-server-side-encryption-customer-*), in the format
// of objectstore/sse. A new object's encryption comes from its request, else from its
// bucket's default (encryption.go), which is SSE-S3 unless configured otherwise, as on
// AWS since 2023. The object store encrypts the body as it streams (PutOptions.Sealer)
// after computing the ETag and checksums over the plaintext; reads come back as stored
// and are decrypted here (openObject), fetching only the packages a range touches.
//
// Each encrypted version (and multipart upload) carries an sseRecord in its stored
// headers under sseHeader: the algorithm, its object key sealed (SSE-S3: under a key
// derived from the cluster key; SSE-C: under one derived from the customer's key) and,
// for SSE-C, a salted HMAC of the customer's key to tell a wrong key. The customer's key
// itself is never stored. Sizes the object store reports are the stored sizes; every
// size this front end shows is the plaintext's (plainView, plainSize).

// sseHeader names the stored header that holds an object's sseRecord; it is never sent.
const sseHeader = "X-Banyan-Sse"

// Encryption algorithms as sseRecord names them.
const (
	sseS3 = "AES256"
	sseC  = "SSE-C"
)

// sseRecord is how an object is encrypted, kept with it.
type sseRecord struct {
	Algorithm string `json:"a"`
	SealedKey []byte `json:"k"`
	Salt      []byte `json:"s,omitempty"`
	Check     []byte `json:"c,omitempty"`
	// KeyID is the ARN of the KMS key of an aws:kms object (ssekms.go); BucketKey says
	// whether the request or the bucket default asked for an S3 Bucket Key (echoed).
	KeyID     string `json:"i,omitempty"`
	BucketKey bool   `json:"b,omitempty"`
}

// SSE errors, with AWS's codes and messages.
var (
	errSSECOverHTTP       = errInvalidRequest.WithMessage("Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.")
	errSSECAlgorithm      = errInvalidArgument.WithMessage("Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.")
	errSSECKeyMissing     = errInvalidArgument.WithMessage("Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.")
	errSSECKeyMD5Missing  = errInvalidArgument.WithMessage("Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.")
	errSSECKeyInvalid     = errInvalidArgument.WithMessage("The secret key was invalid for the specified algorithm.")
	errSSECKeyMD5Mismatch = errInvalidArgument.WithMessage("The calculated MD5 hash of the key did not match the hash that was provided.")
	errSSECWithSSE        = errInvalidArgument.WithMessage("Server Side Encryption with Customer provided key is incompatible with the encryption method specified")
	errSSEMethod          = errInvalidArgument.WithMessage("The encryption method specified is not supported")
	errSSEKMSKeyWithout   = errInvalidArgument.WithMessage("Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms")
	errSSEEncryptedObject = errInvalidRequest.WithMessage("The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.")
	errSSENotApplicable   = errInvalidRequest.WithMessage("The encryption parameters are not applicable to this object.")
	errSSEUploadNeedsKey  = errInvalidRequest.WithMessage("The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.")
	errSSEUploadOtherKey  = errInvalidArgument.WithMessage("The provided encryption parameters did not match the ones used originally.")
	errSSEUnconfigured    = errNotImplemented.WithMessage("Server-side encryption with Amazon S3 managed keys is not configured on this cluster.")
	errSSECBlocked        = errAccessDenied.WithMessage("Requests specifying Server Side Encryption with Customer provided keys are blocked for this bucket.")
	// Banyan has no KMS yet: every KMS key but the managed aws/s3 one does not exist.
	errKMSNotFound = awserr.New("KMS.NotFoundException", http.StatusBadRequest, "Invalid keyId")
)

func kmsNotFound(keyID string) error {
	return errKMSNotFound.WithMessage("Invalid keyId '%s': this cloud's only KMS key is the AWS managed key alias/aws/s3 (SSE-KMS aws:kms; aws:kms:dsse is not available).", keyID)
}

// customerKey is an SSE-C key a request brings.
type customerKey struct {
	key []byte
	md5 string // base64, as the client sent it
}

const (
	sseCPrefix     = "x-amz-server-side-encryption-customer-"
	copySSECPrefix = "x-amz-copy-source-server-side-encryption-customer-"
)

// customerKeyFrom reads the SSE-C headers with the given prefix: nil when there are
// none. SSE-C is refused over plain HTTP, as AWS does: the key travels in the clear.
func (q *request) customerKeyFrom(prefix string) (*customerKey, error) {
	h := q.r.Header
	algo, key, sum := h.Get(prefix+"algorithm"), h.Get(prefix+"key"), h.Get(prefix+"key-MD5")
	if algo == "" && key == "" && sum == "" {
		return nil, nil
	}
	if !q.call.Secure {
		return nil, errSSECOverHTTP
	}
	switch {
	case algo != "AES256":
		return nil, errSSECAlgorithm
	case key == "":
		return nil, errSSECKeyMissing
	case sum == "":
		return nil, errSSECKeyMD5Missing
	}
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(raw) != 32 {
		return nil, errSSECKeyInvalid
	}
	want, err := base64.StdEncoding.DecodeString(sum)
	got := md5.Sum(raw)
	if err != nil || string(want) != string(got[:]) {
		return nil, errSSECKeyMD5Mismatch
	}
	return &customerKey{key: raw, md5: sum}, nil
}

// objectEncryption is how a new object is encrypted: its record and its key.
type objectEncryption struct {
	rec sseRecord
	key sse.ObjectKey
	ck  *customerKey
}

// sealer encrypts part n of the object.
func (e *objectEncryption) sealer(part int) objectstore.Sealer {
	return objectSealer{key: e.key, part: part, hideMD5: e.rec.Algorithm == sseC || e.rec.Algorithm == sseKMS}
}

type objectSealer struct {
	key     sse.ObjectKey
	part    int
	hideMD5 bool
}

func (s objectSealer) SealedSize(n int64) int64 { return sse.SealedSize(n) }
func (s objectSealer) Seal(r io.Reader, size int64) io.Reader {
	return sse.Encrypt(r, s.key, s.part, size)
}
func (s objectSealer) ETag(md5hex string) string {
	if s.hideMD5 {
		return s.key.ETag(md5hex)
	}
	return md5hex
}

// keyContext binds a sealed object key to the object it belongs to.
func keyContext(bucket, key string) string { return bucket + "/" + key }

func (f *Frontend) clusterKEK() ([32]byte, bool) {
	if len(f.SSEKey) == 0 {
		return [32]byte{}, false
	}
	return sse.ClusterKEK(f.SSEKey), true
}

// newEncryption decides how a new object of bucket b is encrypted (PUT, copy
// destination, CreateMultipartUpload, POST): as the request's headers say, else as the
// bucket's default. nil: stored as sent (only when the cluster has no key for SSE-S3).
func (q *request) newEncryption(b *state.Bucket) (*objectEncryption, error) {
	h := q.r.Header
	method := h.Get("x-amz-server-side-encryption")
	kmsKey := h.Get("x-amz-server-side-encryption-aws-kms-key-id")
	ck, err := q.customerKeyFrom(sseCPrefix)
	if err != nil {
		return nil, err
	}
	cfg := bucketEncryption(b)
	switch {
	case ck != nil && method != "":
		return nil, errSSECWithSSE
	case method == "aws:kms:dsse":
		return nil, kmsNotFound(kmsKey)
	case method == sseKMS:
		return q.kmsEncryption(b, kmsKey, h.Get("x-amz-server-side-encryption-bucket-key-enabled") == "true")
	case kmsKey != "":
		return nil, errSSEKMSKeyWithout
	case method != "" && method != sseS3:
		return nil, errSSEMethod
	case ck != nil:
		if cfg.BlockSSEC {
			return nil, errSSECBlocked
		}
		e := &objectEncryption{key: sse.NewObjectKey(), ck: ck}
		e.rec = sseRecord{Algorithm: sseC, SealedKey: sse.SealKey(sse.CustomerKEK(ck.key), e.key, keyContext(b.Name, q.key)),
			Salt: sse.NewSalt()}
		e.rec.Check = sse.KeyCheck(ck.key, e.rec.Salt)
		return e, nil
	}
	if method == "" && cfg.Algorithm == sseKMS {
		return q.kmsEncryption(b, cfg.KMSKeyID, cfg.BucketKey)
	}
	kek, ok := q.f.clusterKEK()
	if !ok {
		if method != "" {
			return nil, errSSEUnconfigured
		}
		return nil, nil
	}
	e := &objectEncryption{key: sse.NewObjectKey()}
	e.rec = sseRecord{Algorithm: sseS3, SealedKey: sse.SealKey(kek, e.key, keyContext(b.Name, q.key))}
	return e, nil
}

// kmsEncryption is SSE-KMS of a new object of b under the key asked for (ssekms.go).
func (q *request) kmsEncryption(b *state.Bucket, keyID string, bucketKey bool) (*objectEncryption, error) {
	arn, err := q.f.kmsKeyARN(b.Owner, keyID)
	if err != nil {
		return nil, err
	}
	kek, ok := q.f.kmsKEK(arn)
	if !ok {
		return nil, errSSEUnconfigured
	}
	e := &objectEncryption{key: sse.NewObjectKey()}
	e.rec = sseRecord{Algorithm: sseKMS, KeyID: arn, BucketKey: bucketKey, SealedKey: sse.SealKey(kek, e.key, keyContext(b.Name, q.key))}
	return e, nil
}

// encryptNew applies newEncryption to a new object's options: the record among its
// stored headers and, unless it is a multipart upload (whose parts each get their own
// sealer), the sealer of its body.
func (q *request) encryptNew(b *state.Bucket, opts *objectstore.PutOptions, seal bool) (*objectEncryption, error) {
	delete(opts.Headers, sseHeader)
	e, err := q.newEncryption(b)
	if err != nil || e == nil {
		return e, err
	}
	js, _ := json.Marshal(e.rec)
	if opts.Headers == nil {
		opts.Headers = map[string]string{}
	}
	opts.Headers[sseHeader] = string(js)
	if seal {
		opts.Sealer = e.sealer(1)
	}
	return e, nil
}

// setSSEResponse sets the headers that tell the client how an object is encrypted.
func setSSEResponse(h http.Header, rec *sseRecord, ck *customerKey) {
	switch rec.Algorithm {
	case sseS3:
		h.Set("x-amz-server-side-encryption", sseS3)
	case sseKMS:
		h.Set("x-amz-server-side-encryption", sseKMS)
		h.Set("x-amz-server-side-encryption-aws-kms-key-id", rec.KeyID)
		if rec.BucketKey {
			h.Set("x-amz-server-side-encryption-bucket-key-enabled", "true")
		}
	case sseC:
		h.Set(sseCPrefix+"algorithm", "AES256")
		if ck != nil {
			h.Set(sseCPrefix+"key-MD5", ck.md5)
		}
	}
}

func (e *objectEncryption) setResponse(h http.Header) {
	if e != nil {
		setSSEResponse(h, &e.rec, e.ck)
	}
}

// storedSSE returns the record of an object (or an upload's options); nil when it is
// not encrypted.
func storedSSE(headers map[string]string) *sseRecord {
	js, ok := headers[sseHeader]
	if !ok {
		return nil
	}
	var rec sseRecord
	if json.Unmarshal([]byte(js), &rec) != nil || rec.Algorithm == "" {
		// Unreadable: treat as encrypted with a key no one has, never as plaintext.
		return &sseRecord{Algorithm: "unknown"}
	}
	return &rec
}

// objectKey opens the object key of an encrypted object (or upload) with what the
// request brings: SSE-S3 needs nothing (and refuses a customer key), SSE-C the key it
// was written with.
func (f *Frontend) objectKey(rec *sseRecord, bucket, key string, ck *customerKey) (sse.ObjectKey, error) {
	switch rec.Algorithm {
	case sseS3:
		if ck != nil {
			return sse.ObjectKey{}, errSSENotApplicable
		}
		kek, ok := f.clusterKEK()
		if !ok {
			return sse.ObjectKey{}, errSSEUnconfigured
		}
		return sse.UnsealKey(kek, rec.SealedKey, keyContext(bucket, key))
	case sseKMS:
		if ck != nil {
			return sse.ObjectKey{}, errSSENotApplicable
		}
		kek, ok := f.kmsKEK(rec.KeyID)
		if !ok {
			return sse.ObjectKey{}, errSSEUnconfigured
		}
		return sse.UnsealKey(kek, rec.SealedKey, keyContext(bucket, key))
	case sseC:
		if ck == nil {
			return sse.ObjectKey{}, errSSEEncryptedObject
		}
		if !sse.KeyMatches(ck.key, rec.Salt, rec.Check) {
			return sse.ObjectKey{}, errAccessDenied
		}
		return sse.UnsealKey(sse.CustomerKEK(ck.key), rec.SealedKey, keyContext(bucket, key))
	}
	return sse.ObjectKey{}, errSSEEncryptedObject
}

// sealedParts are the encrypted streams of a version as stored.
func sealedParts(info objectstore.ObjectInfo) []sse.Part {
	if len(info.Parts) == 0 {
		return []sse.Part{{Number: 1, Size: info.Size}}
	}
	parts := make([]sse.Part, len(info.Parts))
	for i, p := range info.Parts {
		parts[i] = sse.Part{Number: p.Number, Size: p.Size}
	}
	return parts
}

// plainSize is the size of an object as its owner sees it.
func plainSize(info objectstore.ObjectInfo) int64 {
	if storedSSE(info.Headers) == nil || info.DeleteMarker {
		return info.Size
	}
	// Each part is a stream of its own.
	var plain int64
	for _, p := range sealedParts(info) {
		n, err := sse.PlainSize(p.Size)
		if err != nil {
			return info.Size
		}
		plain += n
	}
	return plain
}

// plainView is info with the plaintext's sizes (object and parts).
func plainView(info objectstore.ObjectInfo) objectstore.ObjectInfo {
	if storedSSE(info.Headers) == nil || info.DeleteMarker {
		return info
	}
	info.Size = plainSize(info)
	if len(info.Parts) > 0 {
		parts := make([]objectstore.PartInfo, len(info.Parts))
		for i, p := range info.Parts {
			if n, err := sse.PlainSize(p.Size); err == nil {
				p.Size = n
			}
			parts[i] = p
		}
		info.Parts = parts
	}
	return info
}

// openObject is GetObject (HeadObject when head) for the S3 front end: the plaintext of
// the requested range, with the plaintext's sizes, decrypting encrypted versions with
// what the request brings (ck: its SSE-C key, if any). A whole-object read is one call
// to the object store; a ranged or part read of an encrypted version reads its metadata
// first to know which packages to fetch, then those only, from that same version.
func (f *Frontend) openObject(ctx context.Context, bucket, key string, opts objectstore.GetOptions, ck *customerKey, head bool) (objectstore.ObjectInfo, io.ReadCloser, error) {
	if head {
		info, err := f.objects.HeadObject(ctx, bucket, key, opts)
		if err != nil {
			return plainView(info), nil, err
		}
		if err := f.checkReadKey(info, ck); err != nil {
			return objectstore.ObjectInfo{}, nil, err
		}
		return plainView(info), nil, nil
	}
	if opts.Range == nil && opts.PartNumber == 0 {
		info, rc, err := f.objects.GetObject(ctx, bucket, key, opts)
		if err != nil {
			return plainView(info), rc, err
		}
		return f.decrypted(info, rc, 0, plainSize(info), ck)
	}
	for range 3 {
		hinfo, err := f.objects.HeadObject(ctx, bucket, key, objectstore.GetOptions{VersionID: opts.VersionID})
		if err != nil {
			return plainView(hinfo), nil, err
		}
		if storedSSE(hinfo.Headers) == nil {
			if ck != nil {
				return objectstore.ObjectInfo{}, nil, errSSENotApplicable
			}
			info, rc, err := f.objects.GetObject(ctx, bucket, key, opts)
			if err == nil && storedSSE(info.Headers) != nil {
				rc.Close() // replaced by an encrypted version meanwhile
				continue
			}
			return info, rc, err
		}
		if err := f.checkReadKey(hinfo, ck); err != nil {
			return objectstore.ObjectInfo{}, nil, err
		}
		plain := plainView(hinfo)
		off, length, err := plainRange(opts, plain)
		if err != nil {
			return plain, nil, err
		}
		plan, err := sse.NewPlan(sealedParts(hinfo), off, length)
		if err != nil {
			return plain, nil, err
		}
		gopts := objectstore.GetOptions{VersionID: hinfo.VersionID,
			Range: &objectstore.Range{Start: plan.StoredOffset, End: plan.StoredOffset + plan.StoredLength - 1}}
		info, rc, err := f.objects.GetObject(ctx, bucket, key, gopts)
		if err != nil {
			return plainView(info), nil, err
		}
		if info.ETag != hinfo.ETag || !info.ModTime.Equal(hinfo.ModTime) {
			rc.Close() // the null version was overwritten between the two reads
			continue
		}
		return f.decryptedPlan(info, rc, plan, ck)
	}
	return objectstore.ObjectInfo{}, nil, objectstore.ErrSlowDown
}

// checkReadKey checks that a read of info brings the key it needs.
func (f *Frontend) checkReadKey(info objectstore.ObjectInfo, ck *customerKey) error {
	rec := storedSSE(info.Headers)
	if rec == nil || info.DeleteMarker {
		if ck != nil && !info.DeleteMarker {
			return errSSENotApplicable
		}
		return nil
	}
	_, err := f.objectKey(rec, info.Bucket, info.Key, ck)
	return err
}

// decrypted wraps a whole-object reader of info in its decryption.
func (f *Frontend) decrypted(info objectstore.ObjectInfo, rc io.ReadCloser, off, length int64, ck *customerKey) (objectstore.ObjectInfo, io.ReadCloser, error) {
	if storedSSE(info.Headers) == nil {
		if ck != nil {
			rc.Close()
			return objectstore.ObjectInfo{}, nil, errSSENotApplicable
		}
		return info, rc, nil
	}
	plan, err := sse.NewPlan(sealedParts(info), off, length)
	if err != nil {
		rc.Close()
		return objectstore.ObjectInfo{}, nil, err
	}
	return f.decryptedPlan(info, rc, plan, ck)
}

func (f *Frontend) decryptedPlan(info objectstore.ObjectInfo, rc io.ReadCloser, plan *sse.Plan, ck *customerKey) (objectstore.ObjectInfo, io.ReadCloser, error) {
	k, err := f.objectKey(storedSSE(info.Headers), info.Bucket, info.Key, ck)
	if err != nil {
		rc.Close()
		return objectstore.ObjectInfo{}, nil, err
	}
	return plainView(info), decryptingReader{Reader: plan.Decrypt(rc, k), Closer: rc}, nil
}

type decryptingReader struct {
	io.Reader
	io.Closer
}

// plainRange is the plaintext range a ranged or part GET reads of an object of
// info.Size bytes, as the object store would answer it for a plaintext object.
func plainRange(opts objectstore.GetOptions, info objectstore.ObjectInfo) (off, length int64, err error) {
	if opts.PartNumber > 0 {
		if len(info.Parts) == 0 {
			if opts.PartNumber == 1 {
				return 0, info.Size, nil
			}
			return 0, 0, objectstore.ErrInvalidRange
		}
		for _, p := range info.Parts {
			if p.Number == opts.PartNumber {
				return off, p.Size, nil
			}
			off += p.Size
		}
		return 0, 0, objectstore.ErrInvalidRange
	}
	r := *opts.Range
	total := info.Size
	start, end := r.Start, r.End
	if start < 0 {
		start = max(total+start, 0)
		end = total - 1
	} else if end < 0 || end >= total {
		end = total - 1
	}
	if start >= total {
		return 0, 0, objectstore.ErrInvalidRange
	}
	return start, end - start + 1, nil
}

// readEncryption is how a GET or HEAD reads an object: the SSE-C key it brings, if any.
func (q *request) readKey() (*customerKey, error) { return q.customerKeyFrom(sseCPrefix) }

// setReadResponse sets the encryption headers of a GET or HEAD of info.
func setReadResponse(h http.Header, info objectstore.ObjectInfo, ck *customerKey) {
	if rec := storedSSE(info.Headers); rec != nil {
		setSSEResponse(h, rec, ck)
	}
}

// uploadEncryption returns how the parts of a multipart upload are encrypted (nil: not
// at all), checking the SSE-C key a part request brings against the upload's.
func (q *request) uploadEncryption(bucket, uploadID string) (*objectEncryption, error) {
	ck, err := q.customerKeyFrom(sseCPrefix)
	if err != nil {
		return nil, err
	}
	res, err := q.f.objects.ListParts(q.r.Context(), bucket, q.key, uploadID, maxParts, 1)
	if err != nil {
		return nil, err
	}
	rec := storedSSE(res.Upload.Opts.Headers)
	if rec == nil {
		if ck != nil {
			return nil, errSSENotApplicable
		}
		return nil, nil
	}
	if rec.Algorithm == sseC && ck == nil {
		return nil, errSSEUploadNeedsKey
	}
	k, err := q.f.objectKey(rec, bucket, q.key, ck)
	if errors.Is(err, errAccessDenied) {
		return nil, errSSEUploadOtherKey
	}
	if err != nil {
		return nil, err
	}
	return &objectEncryption{rec: *rec, key: k, ck: ck}, nil
}

// isSSERequest reports whether a request asks for an encryption of its own (which
// makes a copy of an object onto itself legal).
func (q *request) isSSERequest() bool {
	h := q.r.Header
	return h.Get("x-amz-server-side-encryption") != "" || h.Get(sseCPrefix+"algorithm") != ""
}

// stripSSE drops the stored record from headers copied off another object.
func stripSSE(name string) bool { return strings.EqualFold(name, sseHeader) }
