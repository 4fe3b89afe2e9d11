package iampolicy

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func TestSetGlobalKeys(t *testing.T) {
	at := time.Date(2024, 6, 1, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	common := map[string][]string{
		KeyCurrentTime:     {"2024-06-01T12:00:00Z"},
		KeyEpochTime:       {"1717243200"},
		KeySecureTransport: {"true"},
		KeySourceIP:        {"192.0.2.10"},
	}
	tests := []struct {
		name string
		who  Principal
		want map[string][]string
	}{
		{"user", alice, map[string][]string{
			KeyUsername: {"alice"}, KeyUserID: {"AIDAALICE"}, KeyPrincipalARN: {alice.ARN},
			KeyPrincipalAccount: {acctA}, KeyPrincipalType: {"User"}, KeyPrincipalIsAWSService: {"false"}}},
		{"root", Principal{Type: PrincipalRoot, Account: acctA}, map[string][]string{
			KeyUserID: {acctA}, KeyPrincipalARN: {"arn:aws:iam::" + acctA + ":root"},
			KeyPrincipalAccount: {acctA}, KeyPrincipalType: {"Account"}, KeyPrincipalIsAWSService: {"false"}}},
		{"role session", deploy, map[string][]string{
			KeyUserID: {"AROADEPLOY:ci-42"}, KeyPrincipalARN: {deploy.RoleARN},
			KeyPrincipalAccount: {acctA}, KeyPrincipalType: {"AssumedRole"}, KeyPrincipalIsAWSService: {"false"}}},
		{"anonymous", anonymous, map[string][]string{KeyUserID: {"anonymous"}, KeyPrincipalType: {"Anonymous"}}},
		{"service", ec2Service, map[string][]string{
			KeyPrincipalIsAWSService: {"true"}, KeyPrincipalServiceName: {"ec2.amazonaws.com"}}},
		{"web identity", Principal{Type: PrincipalWebIdentity, Federated: "accounts.google.com"}, map[string][]string{
			KeyPrincipalType: {"WebIdentityUser"}, KeyPrincipalIsAWSService: {"false"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Request{Principal: tt.who, Context: map[string][]string{
				"s3:prefix":        {"home/"},    // service keys stay
				"AWS:USERNAME":     {"mallory"},  // forged identity keys go, in any spelling
				"aws:SourceIp":     {"10.9.9.9"}, // and so does a forged address
				"aws:PrincipalArn": {"arn:forged"},
			}}
			r.SetGlobalKeys(at, netip.MustParseAddr("::ffff:192.0.2.10"), true)
			want := map[string][]string{"s3:prefix": {"home/"}}
			for k, v := range common {
				want[k] = v
			}
			for k, v := range tt.want {
				want[k] = v
			}
			if !reflect.DeepEqual(r.Context, want) {
				t.Errorf("context\n got %v\nwant %v", r.Context, want)
			}
		})
	}
}

func TestSetGlobalKeysWithoutAddress(t *testing.T) {
	r := &Request{Principal: alice}
	r.SetGlobalKeys(testTime, netip.Addr{}, false)
	if v := r.Values(KeySourceIP); v != nil {
		t.Errorf("aws:SourceIp = %v, want none", v)
	}
	if v := r.Values(KeySecureTransport); len(v) != 1 || v[0] != "false" {
		t.Errorf("aws:SecureTransport = %v", v)
	}
}

func TestValuesIgnoresCase(t *testing.T) {
	r := &Request{Context: map[string][]string{"aws:SourceIp": {"192.0.2.1"}}}
	for _, k := range []string{"aws:SourceIp", "aws:sourceip", "AWS:SOURCEIP"} {
		if v := r.Values(k); len(v) != 1 {
			t.Errorf("Values(%q) = %v", k, v)
		}
	}
	if v := r.Values("aws:SourceVpc"); v != nil {
		t.Errorf("missing key gave %v", v)
	}
	if v := (&Request{}).Values("x:y"); v != nil {
		t.Errorf("nil context gave %v", v)
	}
}
