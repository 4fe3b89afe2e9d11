package s3

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/banyancloud/banyan/objectstore/sse"
)

// SSE-KMS with the one KMS key this cloud has for each account: the AWS managed key
// aws/s3, until a KMS service exists. A request (or a bucket default) asking for aws:kms
// with no key, with alias/aws/s3, or with that key's ID or ARN gets it; any other key is
// KMS.NotFoundException, as for a key that does not exist. The key belongs to the bucket
// owner's account; its ID is derived from the account (stable, never stored) and its
// key-encryption key from the cluster key and the account (sse.ManagedKEK). Objects are
// encrypted as SSE-S3 ones are, with the key ID kept in the record, shown as
// x-amz-server-side-encryption-aws-kms-key-id, and an ETag that is not the MD5 of the
// body, as on AWS. aws:kms:dsse (two layers) is not offered.

const sseKMS = "aws:kms"

const managedKeyAlias = "alias/aws/s3"

// managedKeyID is the key ID of account's aws/s3 key: a UUID derived from the account.
func managedKeyID(account string) string {
	h := sha256.Sum256([]byte("banyan aws/s3 key " + account))
	h[6] = h[6]&0x0f | 0x40 // version 4 layout
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// managedKeyARN is the ARN of account's aws/s3 key.
func (f *Frontend) managedKeyARN(account string) string {
	return "arn:aws:kms:" + f.region + ":" + account + ":key/" + managedKeyID(account)
}

// kmsKeyARN resolves the key a request or bucket default names for an object of
// account's bucket to the aws/s3 key's ARN; other keys do not exist.
func (f *Frontend) kmsKeyARN(account, asked string) (string, error) {
	arn := f.managedKeyARN(account)
	switch asked {
	case "", managedKeyAlias, managedKeyID(account), arn, "arn:aws:kms:" + f.region + ":" + account + ":" + managedKeyAlias:
		return arn, nil
	}
	return "", kmsNotFound(asked)
}

// kmsKEK is the key-encryption key of the managed key whose ARN is keyARN.
func (f *Frontend) kmsKEK(keyARN string) ([32]byte, bool) {
	parts := strings.Split(keyARN, ":")
	if len(f.SSEKey) == 0 || len(parts) != 6 || parts[4] == "" {
		return [32]byte{}, false
	}
	return sse.ManagedKEK(f.SSEKey, parts[4]), true
}
