package s3

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdks3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

var allAttributes = []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum,
	types.ObjectAttributesObjectParts, types.ObjectAttributesStorageClass, types.ObjectAttributesObjectSize}

func attrs(t *testing.T, c *sdks3.Client, in *sdks3.GetObjectAttributesInput) *sdks3.GetObjectAttributesOutput {
	t.Helper()
	out, err := c.GetObjectAttributes(ctx, in)
	if err != nil {
		t.Fatalf("GetObjectAttributes %s: %v", aws.ToString(in.Key), err)
	}
	return out
}

func crc32b64(b []byte) string {
	var raw [4]byte
	binary.BigEndian.PutUint32(raw[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(raw[:])
}

func TestGetObjectAttributes(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "attrs")
	body := "attribute words"
	if _, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("attrs"), Key: aws.String("k"), Body: strings.NewReader(body),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32}); err != nil {
		t.Fatal(err)
	}
	head, err := c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: aws.String("attrs"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	out := attrs(t, c, &sdks3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("k"), ObjectAttributes: allAttributes})
	if aws.ToString(out.ETag) != md5hex([]byte(body)) || aws.ToString(out.ETag) != strings.Trim(aws.ToString(head.ETag), `"`) {
		t.Fatalf("ETag %q (HEAD %q)", aws.ToString(out.ETag), aws.ToString(head.ETag))
	}
	if aws.ToInt64(out.ObjectSize) != int64(len(body)) || out.StorageClass != types.StorageClassStandard {
		t.Fatalf("size %d, class %q", aws.ToInt64(out.ObjectSize), out.StorageClass)
	}
	if out.Checksum == nil || aws.ToString(out.Checksum.ChecksumCRC32) != crc32b64([]byte(body)) || out.Checksum.ChecksumType != types.ChecksumTypeFullObject {
		t.Fatalf("Checksum %+v", out.Checksum)
	}
	if out.ObjectParts != nil {
		t.Fatalf("ObjectParts for a single-part object: %+v", out.ObjectParts)
	}
	if out.LastModified == nil || !out.LastModified.Equal(aws.ToTime(head.LastModified)) || out.VersionId != nil || out.DeleteMarker != nil {
		t.Fatalf("headers: %v %v %v", out.LastModified, out.VersionId, out.DeleteMarker)
	}

	// Only what was asked for.
	out = attrs(t, c, &sdks3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("k"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectSize}})
	if out.ETag != nil || out.Checksum != nil || out.StorageClass != "" || aws.ToInt64(out.ObjectSize) != int64(len(body)) {
		t.Fatalf("ObjectSize only: %+v", out)
	}

	// On the wire: one comma-separated header, elements in the model's order, the ETag
	// unquoted, headers but no body members for what was not asked.
	resp, raw := e.signed("GET", "/attrs/k?attributes", nil, 0, map[string]string{"x-amz-object-attributes": "ObjectSize, ETag,StorageClass"})
	want := `<GetObjectAttributesResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ETag>` + md5hex([]byte(body)) +
		`</ETag><StorageClass>STANDARD</StorageClass><ObjectSize>15</ObjectSize></GetObjectAttributesResponse>`
	if resp.StatusCode != 200 || !strings.HasSuffix(string(raw), want) || resp.Header.Get("Last-Modified") == "" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xml") {
		t.Fatalf("raw answer: %d %v\n%s", resp.StatusCode, resp.Header, raw)
	}

	// A stored class other than STANDARD is reported as such.
	if _, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("attrs"), Key: aws.String("rr"), Body: strings.NewReader("x"),
		StorageClass: types.StorageClassReducedRedundancy}); err != nil {
		t.Fatal(err)
	}
	out = attrs(t, c, &sdks3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("rr"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesStorageClass}})
	if out.StorageClass != types.StorageClassReducedRedundancy {
		t.Fatalf("class %q", out.StorageClass)
	}

	// Conditional headers are honoured as HEAD honours them.
	resp, _ = e.signed("GET", "/attrs/k?attributes", nil, 0, map[string]string{"x-amz-object-attributes": "ETag",
		"If-None-Match": `"` + md5hex([]byte(body)) + `"`})
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}

	// Errors.
	_, err = c.GetObjectAttributes(ctx, &sdks3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("k"),
		ObjectAttributes: []types.ObjectAttributes{}})
	wantCode(t, err, "InvalidArgument", 400)
	_, err = c.GetObjectAttributes(ctx, &sdks3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("k"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag, "Size"}})
	wantCode(t, err, "InvalidArgument", 400)
	resp, raw = e.signed("GET", "/attrs/k?attributes", nil, 0, nil)
	if resp.StatusCode != 400 || errorCode(raw) != "InvalidArgument" {
		t.Fatalf("no x-amz-object-attributes: %d %s", resp.StatusCode, raw)
	}
	resp, raw = e.signed("GET", "/attrs/k?attributes", nil, 0, map[string]string{"x-amz-object-attributes": "etag"})
	if resp.StatusCode != 400 || errorCode(raw) != "InvalidArgument" {
		t.Fatalf("lower-case name: %d %s", resp.StatusCode, raw)
	}
	resp, raw = e.signed("GET", "/attrs/k?attributes", nil, 0, map[string]string{"x-amz-object-attributes": "ObjectParts", "x-amz-max-parts": "lots"})
	if resp.StatusCode != 400 || errorCode(raw) != "InvalidArgument" {
		t.Fatalf("bad x-amz-max-parts: %d %s", resp.StatusCode, raw)
	}
	_, err = c.GetObjectAttributes(ctx, &sdks3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("missing"), ObjectAttributes: allAttributes})
	wantCode(t, err, "NoSuchKey", 404)
	_, err = c.GetObjectAttributes(ctx, &sdks3.GetObjectAttributesInput{Bucket: aws.String("nobucket"), Key: aws.String("k"), ObjectAttributes: allAttributes})
	wantCode(t, err, "NoSuchBucket", 404)
	// ?attributes is served for GET of an object only.
	resp, _ = e.signed("PUT", "/attrs/k?attributes", strings.NewReader("x"), 1, nil)
	if resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("PUT ?attributes: %d", resp.StatusCode)
	}
	if _, body := get(t, c, &sdks3.GetObjectInput{Bucket: aws.String("attrs"), Key: aws.String("k")}); body != "attribute words" {
		t.Fatalf("object after PUT ?attributes: %q", body)
	}
}

// uploadParts completes a multipart upload of parts, created with the checksum
// algorithm algo ("" for none; CRC32 is the one whose part checksums it passes on).
func uploadParts(t *testing.T, c *sdks3.Client, bucket, key string, algo types.ChecksumAlgorithm, parts [][]byte) {
	t.Helper()
	up, err := c.CreateMultipartUpload(ctx, &sdks3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumAlgorithm: algo})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		in := &sdks3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p), ChecksumAlgorithm: algo}
		out, err := c.UploadPart(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		cp := types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag}
		if algo == types.ChecksumAlgorithmCrc32 {
			cp.ChecksumCRC32 = out.ChecksumCRC32
		}
		done = append(done, cp)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &sdks3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
}

func TestGetObjectAttributesMultipart(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "mpattrs")
	parts := [][]byte{bytes.Repeat([]byte("a"), 5<<20), bytes.Repeat([]byte("b"), 5<<20+1), []byte("tail")}
	total := int64(len(parts[0]) + len(parts[1]) + len(parts[2]))

	// Without an additional checksum S3 gives the count of parts only.
	uploadParts(t, c, "mpattrs", "plain", "", parts)
	out := attrs(t, c, &sdks3.GetObjectAttributesInput{Bucket: aws.String("mpattrs"), Key: aws.String("plain"), ObjectAttributes: allAttributes})
	op := out.ObjectParts
	if op == nil || aws.ToInt32(op.TotalPartsCount) != 3 || op.Parts != nil || op.MaxParts != nil || op.IsTruncated != nil {
		t.Fatalf("ObjectParts without checksum: %+v", op)
	}
	if aws.ToInt64(out.ObjectSize) != total || !strings.HasSuffix(aws.ToString(out.ETag), "-3") || strings.Contains(aws.ToString(out.ETag), `"`) ||
		out.Checksum != nil {
		t.Fatalf("plain multipart: size %d ETag %q checksum %+v", aws.ToInt64(out.ObjectSize), aws.ToString(out.ETag), out.Checksum)
	}

	// With one (COMPOSITE), the parts are listed and paged as ListParts pages them.
	uploadParts(t, c, "mpattrs", "summed", types.ChecksumAlgorithmCrc32, parts)
	var cat []byte
	for _, p := range parts {
		raw, _ := base64.StdEncoding.DecodeString(crc32b64(p))
		cat = append(cat, raw...)
	}
	composite := crc32b64(cat)
	head, err := c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: aws.String("mpattrs"), Key: aws.String("summed"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || aws.ToString(head.ChecksumCRC32) != composite+"-3" {
		t.Fatalf("HEAD checksum %q, want %q: %v", aws.ToString(head.ChecksumCRC32), composite+"-3", err)
	}
	out = attrs(t, c, &sdks3.GetObjectAttributesInput{Bucket: aws.String("mpattrs"), Key: aws.String("summed"), ObjectAttributes: allAttributes})
	if out.Checksum == nil || aws.ToString(out.Checksum.ChecksumCRC32) != composite || out.Checksum.ChecksumType != types.ChecksumTypeComposite {
		t.Fatalf("composite Checksum %+v, want %s", out.Checksum, composite)
	}
	op = out.ObjectParts
	if op == nil || aws.ToInt32(op.TotalPartsCount) != 3 || aws.ToString(op.PartNumberMarker) != "0" || aws.ToString(op.NextPartNumberMarker) != "3" ||
		aws.ToInt32(op.MaxParts) != 1000 || aws.ToBool(op.IsTruncated) || len(op.Parts) != 3 {
		t.Fatalf("ObjectParts: %+v", op)
	}
	for i, p := range op.Parts {
		if aws.ToInt32(p.PartNumber) != int32(i+1) || aws.ToInt64(p.Size) != int64(len(parts[i])) {
			t.Fatalf("part %d: number %d size %d", i+1, aws.ToInt32(p.PartNumber), aws.ToInt64(p.Size))
		}
	}
	page := attrs(t, c, &sdks3.GetObjectAttributesInput{Bucket: aws.String("mpattrs"), Key: aws.String("summed"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectParts}, MaxParts: aws.Int32(2)}).ObjectParts
	if page == nil || len(page.Parts) != 2 || !aws.ToBool(page.IsTruncated) || aws.ToString(page.NextPartNumberMarker) != "2" || aws.ToInt32(page.MaxParts) != 2 {
		t.Fatalf("first page: %+v", page)
	}
	page = attrs(t, c, &sdks3.GetObjectAttributesInput{Bucket: aws.String("mpattrs"), Key: aws.String("summed"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectParts}, MaxParts: aws.Int32(2), PartNumberMarker: page.NextPartNumberMarker}).ObjectParts
	if page == nil || len(page.Parts) != 1 || aws.ToInt32(page.Parts[0].PartNumber) != 3 || aws.ToInt64(page.Parts[0].Size) != 4 ||
		aws.ToBool(page.IsTruncated) || aws.ToString(page.PartNumberMarker) != "2" || aws.ToInt32(page.TotalPartsCount) != 3 {
		t.Fatalf("second page: %+v", page)
	}
	// ObjectParts alone of a single-part object: an empty document.
	put(t, c, "mpattrs", "single", "x")
	resp, raw := e.signed("GET", "/mpattrs/single?attributes", nil, 0, map[string]string{"x-amz-object-attributes": "ObjectParts"})
	if resp.StatusCode != 200 || !strings.HasSuffix(string(raw), `<GetObjectAttributesResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></GetObjectAttributesResponse>`) {
		t.Fatalf("ObjectParts of a single-part object: %d %s", resp.StatusCode, raw)
	}
}

func TestGetObjectAttributesVersions(t *testing.T) {
	e := newEnv(t)
	c := e.rootClient()
	mustBucket(t, c, "vattrs")
	if _, err := c.PutBucketVersioning(ctx, &sdks3.PutBucketVersioningInput{Bucket: aws.String("vattrs"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	v1 := put(t, c, "vattrs", "k", "one")
	v2 := put(t, c, "vattrs", "k", "second")
	out := attrs(t, c, &sdks3.GetObjectAttributesInput{Bucket: aws.String("vattrs"), Key: aws.String("k"), ObjectAttributes: allAttributes})
	if aws.ToString(out.VersionId) != aws.ToString(v2.VersionId) || aws.ToInt64(out.ObjectSize) != 6 || aws.ToString(out.ETag) != md5hex([]byte("second")) {
		t.Fatalf("latest: version %q size %d", aws.ToString(out.VersionId), aws.ToInt64(out.ObjectSize))
	}
	out = attrs(t, c, &sdks3.GetObjectAttributesInput{Bucket: aws.String("vattrs"), Key: aws.String("k"), VersionId: v1.VersionId, ObjectAttributes: allAttributes})
	if aws.ToString(out.VersionId) != aws.ToString(v1.VersionId) || aws.ToInt64(out.ObjectSize) != 3 || aws.ToString(out.ETag) != md5hex([]byte("one")) {
		t.Fatalf("v1: version %q size %d", aws.ToString(out.VersionId), aws.ToInt64(out.ObjectSize))
	}
	_, err := c.GetObjectAttributes(ctx, &sdks3.GetObjectAttributesInput{Bucket: aws.String("vattrs"), Key: aws.String("k"), VersionId: aws.String("nope"), ObjectAttributes: allAttributes})
	wantCode(t, err, "NoSuchVersion", 404)

	del, err := c.DeleteObject(ctx, &sdks3.DeleteObjectInput{Bucket: aws.String("vattrs"), Key: aws.String("k")})
	if err != nil || !aws.ToBool(del.DeleteMarker) {
		t.Fatalf("delete: %v", err)
	}
	_, err = c.GetObjectAttributes(ctx, &sdks3.GetObjectAttributesInput{Bucket: aws.String("vattrs"), Key: aws.String("k"), ObjectAttributes: allAttributes})
	wantCode(t, err, "NoSuchKey", 404)
	resp, raw := e.signed("GET", "/vattrs/k?attributes", nil, 0, map[string]string{"x-amz-object-attributes": "ETag"})
	if resp.StatusCode != 404 || errorCode(raw) != "NoSuchKey" || resp.Header.Get("x-amz-delete-marker") != "true" ||
		resp.Header.Get("x-amz-version-id") != aws.ToString(del.VersionId) {
		t.Fatalf("delete marker: %d %v %s", resp.StatusCode, resp.Header, raw)
	}
	resp, raw = e.signed("GET", "/vattrs/k?attributes&versionId="+aws.ToString(del.VersionId), nil, 0, map[string]string{"x-amz-object-attributes": "ETag"})
	if resp.StatusCode != 405 || errorCode(raw) != "MethodNotAllowed" || resp.Header.Get("x-amz-delete-marker") != "true" {
		t.Fatalf("delete marker by version: %d %v %s", resp.StatusCode, resp.Header, raw)
	}
	// Older versions stay readable by ID behind the marker.
	out = attrs(t, c, &sdks3.GetObjectAttributesInput{Bucket: aws.String("vattrs"), Key: aws.String("k"), VersionId: v2.VersionId,
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectSize}})
	if aws.ToInt64(out.ObjectSize) != 6 || out.DeleteMarker != nil {
		t.Fatalf("v2 behind the marker: %+v", out)
	}
}

func TestGetObjectAttributesPermissions(t *testing.T) {
	e := newEnv(t)
	root := e.rootClient()
	mustBucket(t, root, "pattrs")
	if _, err := root.PutBucketVersioning(ctx, &sdks3.PutBucketVersioningInput{Bucket: aws.String("pattrs"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	v := put(t, root, "pattrs", "k", "data")
	user := func(name string, actions ...string) *sdks3.Client {
		policy := ""
		if len(actions) > 0 {
			policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["` + strings.Join(actions, `","`) +
				`"],"Resource":["arn:aws:s3:::pattrs","arn:aws:s3:::pattrs/*"]}]}`
		}
		id, secret := e.newUser(name, policy)
		return e.client(id, secret)
	}
	in := func(key string, version *string) *sdks3.GetObjectAttributesInput {
		return &sdks3.GetObjectAttributesInput{Bucket: aws.String("pattrs"), Key: aws.String(key), VersionId: version, ObjectAttributes: allAttributes}
	}
	for _, tc := range []struct {
		name    string
		client  *sdks3.Client
		version *string
		code    string
	}{
		{"nothing", user("nothing"), nil, "AccessDenied"},
		{"get-only", user("getonly", "s3:GetObject"), nil, "AccessDenied"},
		{"attributes-only", user("attronly", "s3:GetObjectAttributes"), nil, "AccessDenied"},
		{"both", user("both", "s3:GetObject", "s3:GetObjectAttributes"), nil, ""},
		{"both, with a version", user("both2", "s3:GetObject", "s3:GetObjectAttributes"), v.VersionId, "AccessDenied"},
		{"version, without attributes", user("veronly", "s3:GetObjectVersion"), v.VersionId, "AccessDenied"},
		{"version attributes", user("verattr", "s3:GetObjectVersion", "s3:GetObjectVersionAttributes"), v.VersionId, ""},
	} {
		_, err := tc.client.GetObjectAttributes(ctx, in("k", tc.version))
		if tc.code == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if c, s := apiCode(err); c != tc.code || s != 403 {
			t.Errorf("%s: got %q %d (%v), want %s 403", tc.name, c, s, err, tc.code)
		}
	}
	// A missing key is NoSuchKey only to a caller who may list the bucket.
	_, err := user("nolist", "s3:GetObject", "s3:GetObjectAttributes").GetObjectAttributes(ctx, in("missing", nil))
	wantCode(t, err, "AccessDenied", 403)
	_, err = user("lister", "s3:GetObject", "s3:GetObjectAttributes", "s3:ListBucket").GetObjectAttributes(ctx, in("missing", nil))
	wantCode(t, err, "NoSuchKey", 404)
	// A bucket policy's explicit deny wins.
	if _, err := root.PutBucketPolicy(ctx, &sdks3.PutBucketPolicyInput{Bucket: aws.String("pattrs"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[
	 {"Effect":"Deny","Principal":"*","Action":"s3:GetObjectAttributes","Resource":"arn:aws:s3:::pattrs/k"}]}`)}); err != nil {
		t.Fatal(err)
	}
	_, err = user("denied", "s3:*").GetObjectAttributes(ctx, in("k", nil))
	wantCode(t, err, "AccessDenied", 403)
	if _, err := root.DeleteBucketPolicy(ctx, &sdks3.DeleteBucketPolicyInput{Bucket: aws.String("pattrs")}); err != nil {
		t.Fatal(err)
	}
	// READ on the object (a public-read ACL) gives anonymous callers its attributes.
	resp, _ := e.raw("GET", "/pattrs/k?attributes", nil, map[string]string{"x-amz-object-attributes": "ObjectSize"})
	if resp.StatusCode != 403 {
		t.Fatalf("anonymous on a private object: %d", resp.StatusCode)
	}
	if _, err := root.PutObjectAcl(ctx, &sdks3.PutObjectAclInput{Bucket: aws.String("pattrs"), Key: aws.String("k"), ACL: types.ObjectCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	resp, raw := e.raw("GET", "/pattrs/k?attributes", nil, map[string]string{"x-amz-object-attributes": "ObjectSize"})
	if resp.StatusCode != 200 || !strings.Contains(string(raw), "<ObjectSize>4</ObjectSize>") {
		t.Fatalf("anonymous on a public-read object: %d %s", resp.StatusCode, raw)
	}
}

func TestGetObjectAttributesSSE(t *testing.T) {
	e, _ := sseEnv(t, true) // the real store, SSE-S3 by default, TLS for SSE-C
	c := e.rootClient()
	mustBucket(t, c, "enc")
	k, other := newSSECKey(), newSSECKey()
	body := randomBytes(100 << 10)
	if _, err := c.PutObject(ctx, &sdks3.PutObjectInput{Bucket: aws.String("enc"), Key: aws.String("c"), Body: bytes.NewReader(body),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)}); err != nil {
		t.Fatal(err)
	}
	in := func(key *ssecKey) *sdks3.GetObjectAttributesInput {
		in := &sdks3.GetObjectAttributesInput{Bucket: aws.String("enc"), Key: aws.String("c"), ObjectAttributes: allAttributes}
		if key != nil {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(key.key), aws.String(key.md5)
		}
		return in
	}
	_, err := c.GetObjectAttributes(ctx, in(nil))
	wantCode(t, err, "InvalidRequest", 400)
	_, err = c.GetObjectAttributes(ctx, in(&other))
	wantCode(t, err, "AccessDenied", 403)
	head, err := c.HeadObject(ctx, &sdks3.HeadObjectInput{Bucket: aws.String("enc"), Key: aws.String("c"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	if err != nil {
		t.Fatal(err)
	}
	out := attrs(t, c, in(&k))
	if aws.ToInt64(out.ObjectSize) != int64(len(body)) || aws.ToString(out.ETag) != strings.Trim(aws.ToString(head.ETag), `"`) {
		t.Fatalf("SSE-C object: size %d ETag %q (HEAD %q)", aws.ToInt64(out.ObjectSize), aws.ToString(out.ETag), aws.ToString(head.ETag))
	}

	// An SSE-S3 multipart object: plaintext sizes for the object and each part.
	parts := [][]byte{randomBytes(5<<20 + 7), randomBytes(100 << 10)}
	uploadParts(t, c, "enc", "mp", types.ChecksumAlgorithmCrc32, parts)
	out = attrs(t, c, &sdks3.GetObjectAttributesInput{Bucket: aws.String("enc"), Key: aws.String("mp"), ObjectAttributes: allAttributes})
	op := out.ObjectParts
	if aws.ToInt64(out.ObjectSize) != int64(len(parts[0])+len(parts[1])) || op == nil || len(op.Parts) != 2 ||
		aws.ToInt64(op.Parts[0].Size) != int64(len(parts[0])) || aws.ToInt64(op.Parts[1].Size) != int64(len(parts[1])) {
		t.Fatalf("SSE-S3 multipart: size %d parts %+v", aws.ToInt64(out.ObjectSize), op)
	}
	// SSE-C parameters on an object that is not SSE-C.
	_, err = c.GetObjectAttributes(ctx, &sdks3.GetObjectAttributesInput{Bucket: aws.String("enc"), Key: aws.String("mp"), ObjectAttributes: allAttributes,
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.key), SSECustomerKeyMD5: aws.String(k.md5)})
	wantCode(t, err, "InvalidRequest", 400)
}
