package sigv4

import (
	"net/http/httptest"
	"testing"
	"time"
)

// TestPublishedIAMExample checks the worked example of AWS's "Signature Version 4 signing
// process" documentation: IAM ListUsers signed by AKIDEXAMPLE on 2015-08-30.
func TestPublishedIAMExample(t *testing.T) {
	r := httptest.NewRequest("GET", "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", nil)
	r.Host = "iam.amazonaws.com"
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r.Header.Set("X-Amz-Date", "20150830T123600Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "+
		"SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
	v := &Verifier{
		Credentials: staticStore{"AKIDEXAMPLE": {AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}},
		Now:         func() time.Time { return time.Date(2015, 8, 30, 12, 40, 0, 0, time.UTC) },
	}
	if _, err := v.Verify(r); err != nil {
		t.Fatalf("the published example does not verify: %v", err)
	}
	r.Header.Set("X-Amz-Date", "20150830T123601Z")
	if _, err := v.Verify(r); err == nil {
		t.Fatal("a changed date still verifies")
	}
}
