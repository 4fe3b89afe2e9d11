package iampolicy

import (
	"strings"
	"testing"
)

// An IAM or STS principal names its account; AWS refuses one without (or with a
// malformed one) in trust and resource policies alike, rather than let it match nobody.
func TestPrincipalARNNeedsAccount(t *testing.T) {
	docFor := func(kind Kind, p string) string {
		if kind == ResourcePolicy {
			return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + p + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`
		}
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + p + `"},"Action":"sts:AssumeRole"}]}`
	}
	for _, bad := range []string{"arn:aws:iam:::user/u1", "arn:aws:iam:::role/r", "arn:aws:sts:::assumed-role/r/s", "arn:aws:iam::1234:user/u", "arn:aws:iam::abcdefghijkl:user/u"} {
		for _, kind := range []Kind{TrustPolicy, ResourcePolicy} {
			_, err := Parse(docFor(kind, bad), kind)
			if err == nil || !strings.Contains(err.Error(), "Invalid principal in policy") {
				t.Errorf("%s (kind %v): got %v", bad, kind, err)
			}
		}
	}
	for _, good := range []string{"arn:aws:iam::111122223333:user/u1", "arn:aws:iam::111122223333:role/path/r",
		"arn:aws:sts::111122223333:assumed-role/r/s", "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E1"} {
		if _, err := Parse(docFor(TrustPolicy, good), TrustPolicy); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
}
