package node

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteAWSConfig writes DIR/aws/credentials and DIR/aws/config for the aws-cli and SDKs:
// AWS_SHARED_CREDENTIALS_FILE=DIR/aws/credentials AWS_CONFIG_FILE=DIR/aws/config aws ...
// then needs no other flags.
func (d *DataDir) WriteAWSConfig(accessKeyID, secret, region, endpoint string) error {
	dir := filepath.Join(d.Path, "aws")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	creds := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", accessKeyID, secret)
	if err := WriteFileAtomic(filepath.Join(dir, "credentials"), []byte(creds), 0o600); err != nil {
		return err
	}
	// s3v4: botocore presigns S3 URLs with SigV2 for regions it knows unless told
	// otherwise, and Banyan accepts SigV4 only.
	conf := fmt.Sprintf("[default]\nregion = %s\nendpoint_url = %s\ns3 =\n    signature_version = s3v4\n", region, endpoint)
	return WriteFileAtomic(filepath.Join(dir, "config"), []byte(conf), 0o600)
}

// AWSCredentialsPath and AWSConfigPath are where WriteAWSConfig writes.
func (d *DataDir) AWSCredentialsPath() string { return filepath.Join(d.Path, "aws", "credentials") }

// AWSConfigPath is the aws-cli config file.
func (d *DataDir) AWSConfigPath() string { return filepath.Join(d.Path, "aws", "config") }
