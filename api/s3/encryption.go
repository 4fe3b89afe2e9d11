package s3

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/cluster/state"
)

// Bucket default encryption: Put/Get/DeleteBucketEncryption, stored in the bucket's Raft
// record (state.Bucket.Encryption, this file's encoding). As on AWS since January 2023,
// a bucket without a configuration encrypts new objects with SSE-S3 and
// GetBucketEncryption answers that default, and DeleteBucketEncryption returns a bucket
// to it rather than to plaintext. Only a cluster whose front end has no key for SSE-S3
// (Frontend.SSEKey unset) stores objects as sent and answers
// ServerSideEncryptionConfigurationNotFoundError. An SSE-KMS default takes the account's
// managed key aws/s3, the only KMS key there is (ssekms.go). BlockedEncryptionTypes SSE-C
// refuses new SSE-C objects (reads go on).

var errNoEncryptionConfig = awserr.New("ServerSideEncryptionConfigurationNotFoundError", http.StatusNotFound, "The server side encryption configuration was not found")

// encryptionConfig is a bucket's stored default encryption.
type encryptionConfig struct {
	Algorithm string `json:"a"`            // AES256 or aws:kms
	KMSKeyID  string `json:"k,omitempty"`  // aws:kms: the managed key's ARN
	BucketKey bool   `json:"bk,omitempty"` // kept and echoed; it only means something for KMS
	BlockSSEC bool   `json:"bc,omitempty"`
}

// bucketEncryption is b's default encryption: the stored one, else SSE-S3.
func bucketEncryption(b *state.Bucket) encryptionConfig {
	cfg := encryptionConfig{Algorithm: sseS3}
	if b != nil && len(b.Encryption) > 0 {
		json.Unmarshal(b.Encryption, &cfg)
	}
	return cfg
}

func (q *request) getBucketEncryption() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:GetEncryptionConfiguration", bucketARN(b.Name), nil); err != nil {
		return err
	}
	if _, ok := q.f.clusterKEK(); !ok {
		return errNoEncryptionConfig
	}
	cfg := bucketEncryption(b)
	def := &ServerSideEncryptionByDefault{SSEAlgorithm: cfg.Algorithm}
	if cfg.KMSKeyID != "" {
		def.KMSMasterKeyID = ptr(cfg.KMSKeyID)
	}
	rule := ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: def, BucketKeyEnabled: ptr(cfg.BucketKey)}
	if cfg.BlockSSEC {
		rule.BlockedEncryptionTypes = &BlockedEncryptionTypes{EncryptionType: []string{"SSE-C"}}
	}
	out := ServerSideEncryptionConfiguration{Rules: []ServerSideEncryptionRule{rule}}
	return restxml.WriteXML(q.w, http.StatusOK, "ServerSideEncryptionConfiguration", &out)
}

func (q *request) putBucketEncryption() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutEncryptionConfiguration", bucketARN(b.Name), nil); err != nil {
		return err
	}
	body, err := readBody(q.r, restxml.DefaultMaxXMLBytes)
	if err != nil {
		return err
	}
	var in ServerSideEncryptionConfiguration
	if len(bytes.TrimSpace(body)) == 0 || restxml.Unmarshal(body, &in) != nil || len(in.Rules) != 1 {
		return errMalformedXML
	}
	rule := in.Rules[0]
	cfg := encryptionConfig{Algorithm: sseS3, BucketKey: rule.BucketKeyEnabled != nil && *rule.BucketKeyEnabled}
	if d := rule.ApplyServerSideEncryptionByDefault; d != nil {
		switch d.SSEAlgorithm {
		case sseS3:
			if d.KMSMasterKeyID != nil {
				return errInvalidArgument.WithMessage("a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse")
			}
		case sseKMS:
			arn, err := q.f.kmsKeyARN(b.Owner, deref(d.KMSMasterKeyID))
			if err != nil {
				return err
			}
			cfg.Algorithm, cfg.KMSKeyID = sseKMS, arn
		case "aws:kms:dsse":
			return kmsNotFound(deref(d.KMSMasterKeyID))
		default:
			return errMalformedXML
		}
	}
	if bt := rule.BlockedEncryptionTypes; bt != nil {
		for _, t := range bt.EncryptionType {
			switch t {
			case "SSE-C":
				cfg.BlockSSEC = true
			case "NONE":
			default:
				return errMalformedXML
			}
		}
	}
	if _, ok := q.f.clusterKEK(); !ok {
		return errSSEUnconfigured
	}
	js, _ := json.Marshal(cfg)
	if err := q.updateBucket(func(b *state.Bucket) error { b.Encryption = js; return nil }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (q *request) deleteBucketEncryption() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutEncryptionConfiguration", bucketARN(b.Name), nil); err != nil {
		return err
	}
	if err := q.updateBucket(func(b *state.Bucket) error { b.Encryption = nil; return nil }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}
