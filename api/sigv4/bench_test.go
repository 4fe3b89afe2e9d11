package sigv4

import (
	"io"
	"strings"
	"testing"
)

// BenchmarkVerify measures the per-request cost of header authentication on the hot path
// (signing key cached), for an IAM form POST and an S3 GET.
func BenchmarkVerify(b *testing.B) {
	for _, c := range []struct {
		name string
		r    *req
	}{{"iam", iamReq()}, {"s3", s3Get()}} {
		b.Run(c.name, func(b *testing.B) {
			proto := c.r.server(b)
			v := negVerifier()
			b.ReportAllocs()
			for b.Loop() {
				r := *proto
				r.Body = io.NopCloser(strings.NewReader(c.r.body))
				if _, err := v.Verify(&r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
