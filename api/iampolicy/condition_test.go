package iampolicy

import (
	"testing"
	"time"
)

type ctx = map[string][]string

// TestConditions runs each operator through Evaluate: one Allow statement carrying the
// condition, and a request carrying ctx as its whole context.
func TestConditions(t *testing.T) {
	tags := func(v ...string) ctx { return ctx{"aws:TagKeys": v} }
	tests := []struct {
		name string
		cond string
		ctx  ctx
		want bool
	}{
		// String operators.
		{"StringEquals match", `{"StringEquals":{"aws:username":"alice"}}`, ctx{"aws:username": {"alice"}}, true},
		{"StringEquals other value", `{"StringEquals":{"aws:username":"alice"}}`, ctx{"aws:username": {"bob"}}, false},
		{"StringEquals is case-sensitive", `{"StringEquals":{"aws:username":"alice"}}`, ctx{"aws:username": {"Alice"}}, false},
		{"StringEquals missing key", `{"StringEquals":{"aws:username":"alice"}}`, nil, false},
		{"StringEquals values are ORed", `{"StringEquals":{"aws:username":["bob","alice"]}}`, ctx{"aws:username": {"alice"}}, true},
		{"StringEquals keys are ANDed", `{"StringEquals":{"aws:username":"alice","aws:RequestedRegion":"eu-west-1"}}`, ctx{"aws:username": {"alice"}, "aws:RequestedRegion": {"us-east-1"}}, false},
		{"operators are ANDed", `{"StringEquals":{"aws:username":"alice"},"Bool":{"aws:SecureTransport":"true"}}`, ctx{"aws:username": {"alice"}, "aws:SecureTransport": {"false"}}, false},
		{"condition keys are case-insensitive", `{"StringEquals":{"AWS:USERNAME":"alice"}}`, ctx{"aws:username": {"alice"}}, true},
		{"a key with no values is missing", `{"StringEquals":{"aws:username":"alice"}}`, ctx{"aws:username": {}}, false},
		{"empty value list matches nothing", `{"StringEquals":{"aws:username":[]}}`, ctx{"aws:username": {"alice"}}, false},
		{"multi-valued key without qualifier: any value", `{"StringEquals":{"aws:TagKeys":"b"}}`, tags("a", "b"), true},
		{"StringNotEquals other value", `{"StringNotEquals":{"aws:username":"alice"}}`, ctx{"aws:username": {"bob"}}, true},
		{"StringNotEquals same value", `{"StringNotEquals":{"aws:username":["bob","alice"]}}`, ctx{"aws:username": {"alice"}}, false},
		{"StringNotEquals missing key", `{"StringNotEquals":{"aws:username":"alice"}}`, nil, true},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}`, ctx{"aws:username": {"alice"}}, true},
		{"StringEqualsIgnoreCase other", `{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}`, ctx{"aws:username": {"bob"}}, false},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"aws:username":"ALICE"}}`, ctx{"aws:username": {"alice"}}, false},
		{"StringNotEqualsIgnoreCase missing", `{"StringNotEqualsIgnoreCase":{"aws:username":"ALICE"}}`, nil, true},
		{"StringLike *", `{"StringLike":{"s3:prefix":"home/*"}}`, ctx{"s3:prefix": {"home/alice/docs"}}, true},
		{"StringLike ?", `{"StringLike":{"s3:prefix":"v?"}}`, ctx{"s3:prefix": {"v2"}}, true},
		{"StringLike no match", `{"StringLike":{"s3:prefix":"home/*"}}`, ctx{"s3:prefix": {"etc/passwd"}}, false},
		{"StringLike is case-sensitive", `{"StringLike":{"s3:prefix":"home/*"}}`, ctx{"s3:prefix": {"HOME/x"}}, false},
		{"StringLike empty string", `{"StringLike":{"s3:prefix":["","home/"]}}`, ctx{"s3:prefix": {""}}, true},
		{"StringLike literal star", `{"StringLike":{"s3:prefix":"a${*}"}}`, ctx{"s3:prefix": {"ab"}}, false},
		{"StringNotLike", `{"StringNotLike":{"s3:prefix":"home/*"}}`, ctx{"s3:prefix": {"etc"}}, true},
		{"StringNotLike matching", `{"StringNotLike":{"s3:prefix":"home/*"}}`, ctx{"s3:prefix": {"home/x"}}, false},
		{"StringNotLike missing", `{"StringNotLike":{"s3:prefix":"home/*"}}`, nil, true},

		// Numeric operators.
		{"NumericEquals", `{"NumericEquals":{"s3:max-keys":10}}`, ctx{"s3:max-keys": {"10"}}, true},
		{"NumericEquals 10.0", `{"NumericEquals":{"s3:max-keys":"10"}}`, ctx{"s3:max-keys": {"10.0"}}, true},
		{"NumericEquals other", `{"NumericEquals":{"s3:max-keys":10}}`, ctx{"s3:max-keys": {"11"}}, false},
		{"NumericEquals not a number", `{"NumericEquals":{"s3:max-keys":10}}`, ctx{"s3:max-keys": {"ten"}}, false},
		{"NumericNotEquals", `{"NumericNotEquals":{"s3:max-keys":10}}`, ctx{"s3:max-keys": {"11"}}, true},
		{"NumericNotEquals equal", `{"NumericNotEquals":{"s3:max-keys":10}}`, ctx{"s3:max-keys": {"10"}}, false},
		{"NumericNotEquals missing", `{"NumericNotEquals":{"s3:max-keys":10}}`, nil, true},
		{"NumericLessThan", `{"NumericLessThan":{"s3:max-keys":10}}`, ctx{"s3:max-keys": {"9"}}, true},
		{"NumericLessThan equal", `{"NumericLessThan":{"s3:max-keys":10}}`, ctx{"s3:max-keys": {"10"}}, false},
		{"NumericLessThan missing", `{"NumericLessThan":{"s3:max-keys":10}}`, nil, false},
		{"NumericLessThanEquals", `{"NumericLessThanEquals":{"s3:max-keys":10}}`, ctx{"s3:max-keys": {"10"}}, true},
		{"NumericLessThanEquals over", `{"NumericLessThanEquals":{"s3:max-keys":10}}`, ctx{"s3:max-keys": {"10.5"}}, false},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"aws:MultiFactorAuthAge":3600}}`, ctx{"aws:MultiFactorAuthAge": {"3601"}}, true},
		{"NumericGreaterThan equal", `{"NumericGreaterThan":{"aws:MultiFactorAuthAge":3600}}`, ctx{"aws:MultiFactorAuthAge": {"3600"}}, false},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"aws:MultiFactorAuthAge":3600}}`, ctx{"aws:MultiFactorAuthAge": {"3600"}}, true},
		{"NumericGreaterThanEquals under", `{"NumericGreaterThanEquals":{"aws:MultiFactorAuthAge":3600}}`, ctx{"aws:MultiFactorAuthAge": {"-1"}}, false},
		{"NumericLessThanIfExists missing", `{"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":3600}}`, nil, true},
		{"NumericLessThanIfExists present", `{"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":3600}}`, ctx{"aws:MultiFactorAuthAge": {"7200"}}, false},
		{"unparsable policy number matches nothing", `{"NumericLessThan":{"s3:max-keys":"many"}}`, ctx{"s3:max-keys": {"1"}}, false},

		// Date operators, against ISO 8601 and epoch values on either side.
		{"DateGreaterThan ISO", `{"DateGreaterThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}`, ctx{"aws:CurrentTime": {"2024-06-01T12:00:00Z"}}, true},
		{"DateGreaterThan earlier", `{"DateGreaterThan":{"aws:CurrentTime":"2024-12-31T00:00:00Z"}}`, ctx{"aws:CurrentTime": {"2024-06-01T12:00:00Z"}}, false},
		{"DateGreaterThan date only", `{"DateGreaterThan":{"aws:CurrentTime":"2024-06-01"}}`, ctx{"aws:CurrentTime": {"2024-06-01T12:00:00Z"}}, true},
		{"DateLessThan with offset", `{"DateLessThan":{"aws:CurrentTime":"2024-06-01T13:00:00+02:00"}}`, ctx{"aws:CurrentTime": {"2024-06-01T12:00:00Z"}}, false},
		{"DateLessThan epoch policy value", `{"DateLessThan":{"aws:CurrentTime":1717243201}}`, ctx{"aws:CurrentTime": {"2024-06-01T12:00:00Z"}}, true},
		{"DateLessThan epoch request value", `{"DateLessThan":{"aws:EpochTime":"2024-06-01T12:00:01Z"}}`, ctx{"aws:EpochTime": {"1717243200"}}, true},
		{"DateLessThanEquals", `{"DateLessThanEquals":{"aws:CurrentTime":"2024-06-01T12:00:00Z"}}`, ctx{"aws:CurrentTime": {"2024-06-01T12:00:00Z"}}, true},
		{"DateGreaterThanEquals", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2024-06-01T12:00:00.000Z"}}`, ctx{"aws:CurrentTime": {"2024-06-01T12:00:00Z"}}, true},
		{"DateEquals", `{"DateEquals":{"aws:TokenIssueTime":"2024-06-01T12:00:00Z"}}`, ctx{"aws:TokenIssueTime": {"1717243200"}}, true},
		{"DateNotEquals", `{"DateNotEquals":{"aws:TokenIssueTime":"2024-06-01T12:00:00Z"}}`, ctx{"aws:TokenIssueTime": {"2024-06-01T12:00:01Z"}}, true},
		{"DateNotEquals missing", `{"DateNotEquals":{"aws:TokenIssueTime":"2024-06-01T12:00:00Z"}}`, nil, true},
		{"DateLessThan missing", `{"DateLessThan":{"aws:TokenIssueTime":"2024-06-01T12:00:00Z"}}`, nil, false},
		{"DateLessThan unreadable request value", `{"DateLessThan":{"aws:CurrentTime":"2024-06-01T12:00:00Z"}}`, ctx{"aws:CurrentTime": {"soon"}}, false},

		// Bool and BinaryEquals.
		{"Bool JSON true", `{"Bool":{"aws:SecureTransport":true}}`, ctx{"aws:SecureTransport": {"true"}}, true},
		{"Bool string, any case", `{"Bool":{"aws:SecureTransport":"TRUE"}}`, ctx{"aws:SecureTransport": {"true"}}, true},
		{"Bool false", `{"Bool":{"aws:SecureTransport":"false"}}`, ctx{"aws:SecureTransport": {"true"}}, false},
		{"Bool missing", `{"Bool":{"aws:MultiFactorAuthPresent":"false"}}`, nil, false},
		{"BoolIfExists missing", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`, nil, true},
		{"BoolIfExists present", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`, ctx{"aws:MultiFactorAuthPresent": {"true"}}, false},
		{"BinaryEquals", `{"BinaryEquals":{"ex:blob":"aGVsbG8="}}`, ctx{"ex:blob": {"hello"}}, true},
		{"BinaryEquals other", `{"BinaryEquals":{"ex:blob":"aGVsbG8="}}`, ctx{"ex:blob": {"aGVsbG8="}}, false},
		{"BinaryEquals bad base64", `{"BinaryEquals":{"ex:blob":"!!"}}`, ctx{"ex:blob": {"!!"}}, false},

		// IP addresses.
		{"IpAddress inside", `{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, ctx{"aws:SourceIp": {"192.0.2.77"}}, true},
		{"IpAddress outside", `{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, ctx{"aws:SourceIp": {"198.51.100.1"}}, false},
		{"IpAddress host bits set", `{"IpAddress":{"aws:SourceIp":"192.0.2.1/24"}}`, ctx{"aws:SourceIp": {"192.0.2.200"}}, true},
		{"IpAddress bare address", `{"IpAddress":{"aws:SourceIp":"192.0.2.7"}}`, ctx{"aws:SourceIp": {"192.0.2.7"}}, true},
		{"IpAddress IPv6", `{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}}`, ctx{"aws:SourceIp": {"2001:db8:1::5"}}, true},
		{"IpAddress IPv6 outside", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, ctx{"aws:SourceIp": {"2001:db9::5"}}, false},
		{"IpAddress v4-mapped request", `{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, ctx{"aws:SourceIp": {"::ffff:192.0.2.9"}}, true},
		{"IpAddress v4-mapped policy", `{"IpAddress":{"aws:SourceIp":"::ffff:192.0.2.0/120"}}`, ctx{"aws:SourceIp": {"192.0.2.9"}}, true},
		{"IpAddress v4 block, v6 caller", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, ctx{"aws:SourceIp": {"2001:db8::1"}}, false},
		{"IpAddress garbage", `{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, ctx{"aws:SourceIp": {"localhost"}}, false},
		{"IpAddress missing", `{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, nil, false},
		{"NotIpAddress outside", `{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, ctx{"aws:SourceIp": {"198.51.100.1"}}, true},
		{"NotIpAddress inside", `{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, ctx{"aws:SourceIp": {"192.0.2.1"}}, false},
		{"NotIpAddress missing", `{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, nil, true},

		// ARN operators.
		{"ArnLike", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:` + acctA + `:topic-*"}}`, ctx{"aws:SourceArn": {"arn:aws:sns:eu-west-1:" + acctA + ":topic-1"}}, true},
		{"ArnLike other account", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:` + acctA + `:*"}}`, ctx{"aws:SourceArn": {"arn:aws:sns:eu-west-1:" + acctB + ":t"}}, false},
		{"ArnLike is case-sensitive", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:*:Topic"}}`, ctx{"aws:SourceArn": {"arn:aws:sns:eu-west-1:" + acctA + ":topic"}}, false},
		{"ArnEquals takes wildcards too", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}`, ctx{"aws:PrincipalArn": {"arn:aws:iam::" + acctA + ":role/admin-eu"}}, true},
		{"ArnNotEquals", `{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin"}}`, ctx{"aws:PrincipalArn": {"arn:aws:iam::" + acctA + ":role/admin"}}, false},
		{"ArnNotLike", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}`, ctx{"aws:PrincipalArn": {"arn:aws:iam::" + acctA + ":user/x"}}, true},
		{"ArnNotLike missing", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}`, nil, true},
		{"ArnLike missing", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}`, nil, false},

		// Null.
		{"Null true, key missing", `{"Null":{"aws:TokenIssueTime":"true"}}`, nil, true},
		{"Null true, key present", `{"Null":{"aws:TokenIssueTime":"true"}}`, ctx{"aws:TokenIssueTime": {"x"}}, false},
		{"Null false, key present", `{"Null":{"aws:TokenIssueTime":false}}`, ctx{"aws:TokenIssueTime": {"x"}}, true},
		{"Null false, key missing", `{"Null":{"aws:TokenIssueTime":"false"}}`, nil, false},
		{"Null with an empty key", `{"Null":{"aws:TagKeys":"true"}}`, tags(), true},

		// IfExists on other operators.
		{"StringEqualsIfExists missing", `{"StringEqualsIfExists":{"ec2:InstanceType":"t3.micro"}}`, nil, true},
		{"StringEqualsIfExists mismatch", `{"StringEqualsIfExists":{"ec2:InstanceType":"t3.micro"}}`, ctx{"ec2:InstanceType": {"m5.large"}}, false},
		{"StringNotEqualsIfExists present", `{"StringNotEqualsIfExists":{"ec2:InstanceType":"t3.micro"}}`, ctx{"ec2:InstanceType": {"t3.micro"}}, false},
		{"IpAddressIfExists missing", `{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}`, nil, true},

		// Set qualifiers.
		{"ForAnyValue one matches", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["b","z"]}}`, tags("a", "b"), true},
		{"ForAnyValue none match", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["y","z"]}}`, tags("a", "b"), false},
		{"ForAnyValue missing key", `{"ForAnyValue:StringEquals":{"aws:TagKeys":"a"}}`, nil, false},
		{"ForAnyValue empty key", `{"ForAnyValue:StringEquals":{"aws:TagKeys":"a"}}`, tags(), false},
		{"ForAnyValue IfExists missing", `{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":"a"}}`, nil, true},
		{"ForAllValues subset", `{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b","c"]}}`, tags("a", "b"), true},
		{"ForAllValues not a subset", `{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, tags("a", "x"), false},
		{"ForAllValues missing key", `{"ForAllValues:StringEquals":{"aws:TagKeys":"a"}}`, nil, true},
		{"ForAllValues empty key", `{"ForAllValues:StringEquals":{"aws:TagKeys":"a"}}`, tags(), true},
		{"ForAllValues StringLike", `{"ForAllValues:StringLike":{"aws:TagKeys":"team-*"}}`, tags("team-a", "team-b"), true},
		{"ForAllValues StringLike one outside", `{"ForAllValues:StringLike":{"aws:TagKeys":"team-*"}}`, tags("team-a", "cost"), false},
		{"ForAllValues StringNotEquals none listed", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, tags("a", "b"), true},
		{"ForAllValues StringNotEquals one listed", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, tags("a", "secret"), false},
		{"ForAllValues StringNotEquals missing", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, nil, true},
		{"ForAnyValue StringNotEquals one unlisted", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a"]}}`, tags("a", "x"), true},
		{"ForAnyValue StringNotEquals all listed", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a"]}}`, tags("a"), false},
		{"ForAnyValue StringNotEquals missing", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a"]}}`, nil, false},
		{"ForAnyValue NumericLessThan", `{"ForAnyValue:NumericLessThan":{"ex:sizes":10}}`, ctx{"ex:sizes": {"50", "5"}}, true},
		{"ForAllValues NumericLessThan", `{"ForAllValues:NumericLessThan":{"ex:sizes":10}}`, ctx{"ex:sizes": {"50", "5"}}, false},
		{"StringNotEquals multi-valued, one listed", `{"StringNotEquals":{"aws:TagKeys":"a"}}`, tags("a", "b"), false},

		// Policy variables in values.
		{"variable in StringEquals", `{"StringEquals":{"s3:prefix":"${aws:username}"}}`, ctx{"aws:username": {"alice"}, "s3:prefix": {"alice"}}, true},
		{"variable in StringLike", `{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}`, ctx{"aws:username": {"alice"}, "s3:prefix": {"home/alice/x"}}, true},
		{"variable in StringLike, other user", `{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}`, ctx{"aws:username": {"bob"}, "s3:prefix": {"home/alice/x"}}, false},
		{"variable value is literal in StringLike", `{"StringLike":{"s3:prefix":"${aws:username}"}}`, ctx{"aws:username": {"*"}, "s3:prefix": {"anything"}}, false},
		{"variable with default", `{"StringEquals":{"s3:prefix":"${aws:username,'public'}"}}`, ctx{"s3:prefix": {"public"}}, true},
		{"unresolved variable: positive fails", `{"StringEquals":{"s3:prefix":"${aws:username}"}}`, ctx{"s3:prefix": {"x"}}, false},
		{"unresolved variable: negated fails too", `{"StringNotEquals":{"s3:prefix":"${aws:username}"}}`, ctx{"s3:prefix": {"x"}}, false},
		{"unresolved variable skipped among others", `{"StringNotEquals":{"s3:prefix":["${aws:username}","y"]}}`, ctx{"s3:prefix": {"x"}}, true},
		{"variable in a numeric value", `{"NumericLessThan":{"s3:max-keys":"${ex:limit}"}}`, ctx{"ex:limit": {"10"}, "s3:max-keys": {"5"}}, true},
		{"variable in an IP value", `{"IpAddress":{"aws:SourceIp":"${ex:cidr}"}}`, ctx{"ex:cidr": {"10.0.0.0/8"}, "aws:SourceIp": {"10.1.2.3"}}, true},
		{"variable in a date value", `{"DateLessThan":{"aws:CurrentTime":"${ex:deadline}"}}`, ctx{"ex:deadline": {"2030-01-01"}, "aws:CurrentTime": {"2024-06-01T12:00:00Z"}}, true},
		{"variable in an ARN value", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:${aws:PrincipalAccount}:*"}}`, ctx{"aws:PrincipalAccount": {acctA}, "aws:SourceArn": {"arn:aws:sns:eu-west-1:" + acctA + ":t"}}, true},
		{"variable in Null", `{"Null":{"aws:TokenIssueTime":"${ex:want}"}}`, ctx{"ex:want": {"true"}}, true},

		{"unknown operator with an empty block is ignored", `{"StringEqualz":{}}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := identity(t, stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":`+tt.cond+`}`))
			req := &Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: tt.ctx}
			if got := Evaluate(req, policies(p), nil).Allowed(); got != tt.want {
				t.Errorf("allowed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	want := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{
		"2024-06-01T12:00:00Z", "2024-06-01t12:00:00z", "2024-06-01T14:00:00+02:00",
		"2024-06-01T14:00:00+0200", "2024-06-01T12:00:00", "2024-06-01T12:00Z", "2024-06-01T12:00",
		"2024-06-01T12:00:00.000Z", "20240601T120000Z", "1717243200", "1717243200.0",
	} {
		if got, ok := parseDate(s); !ok || !got.Equal(want) {
			t.Errorf("parseDate(%q) = %v, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "now", "2024-13-01", "2024-06-01T25:00:00Z", "12:00", "-5", "1e9"} {
		if got, ok := parseDate(s); ok {
			t.Errorf("parseDate(%q) = %v, want failure", s, got)
		}
	}
}
