package iampolicy

import "testing"

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		fold, want bool
	}{
		{"", "", false, true},
		{"", "a", false, false},
		{"*", "", false, true},
		{"*", "anything/at:all", false, true},
		{"abc", "abc", false, true},
		{"abc", "abcd", false, false},
		{"abc", "ABC", false, false},
		{"abc", "ABC", true, true},
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
		{"a?c", "aéc", false, true}, // ? is one character, not one byte
		{"a??c", "aéc", false, false},
		{"a*", "a", false, true},
		{"*a", "bba", false, true},
		{"a*b*c", "axxbyyc", false, true},
		{"a*b*c", "axxbyy", false, false},
		{"a*bc", "abcbcbc", false, true}, // backtracking past an early "bc"
		{"*x*y*z", "xyxyxzz", false, true},
		{"a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false, false},
		{`a\*`, "a*", false, true},
		{`a\*`, "ab", false, false},
		{`a\?`, "a?", false, true},
		{`a\\`, `a\`, false, true},
		{"s3:get*", "S3:GetObject", true, true},
		{"S3:GETOBJECT", "s3:getobject", true, true},
	}
	for _, tt := range tests {
		if got := glob(tt.pattern, tt.s, tt.fold); got != tt.want {
			t.Errorf("glob(%q, %q, fold=%v) = %v, want %v", tt.pattern, tt.s, tt.fold, got, tt.want)
		}
		if got := glob([]byte(tt.pattern), tt.s, tt.fold); got != tt.want {
			t.Errorf("glob([]byte %q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestPatternKinds(t *testing.T) {
	tests := []struct {
		text string
		mode matchMode
		want patternKind
	}{
		{"*", modeAction, patAny},
		{"*", modeARN, patAny},
		{"s3:GetObject", modeAction, patExact},
		{"s3:Get*", modeAction, patPrefix},
		{"s3:*Object", modeAction, patGlob},
		{"arn:aws:s3:::bucket", modeARN, patExact},
		{"arn:aws:s3:::bucket/*", modeARN, patPrefix},
		{"arn:aws:s3", modeARN, patGlob},   // short: the missing fields are wildcards
		{"arn:aws:s3:*", modeARN, patGlob}, // a * in the region must not span fields
		{"arn:aws:ec2:*:*:instance/*", modeARN, patGlob},
		{"arn:aws:s3:::${aws:username}/*", modeARN, patTemplate},
	}
	for _, tt := range tests {
		p := compilePattern(parseTemplate(tt.text, true), tt.mode)
		if p.kind != tt.want {
			t.Errorf("compilePattern(%q) kind %d, want %d", tt.text, p.kind, tt.want)
		}
	}
}

func TestActionMatch(t *testing.T) {
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"*", "s3:GetObject", true},
		{"s3:*", "s3:GetObject", true},
		{"s3:*", "S3:getobject", true},
		{"s3:*", "s3x:GetObject", false},
		{"s3:GetObject", "s3:getobject", true},
		{"s3:GetObject", "s3:GetObjectAcl", false},
		{"s3:Get*", "s3:GETOBJECTACL", true},
		{"s3:Get*", "s3:PutObject", false},
		{"s3:*Object", "s3:PutObject", true},
		{"s3:*Object", "s3:PutObjectAcl", false},
		{"ec2:Describe?pcs", "ec2:DescribeVpcs", true},
		{"*:Get*", "dynamodb:GetItem", true},
	}
	for _, tt := range tests {
		p := compilePattern(template{{kind: partText, text: tt.pattern}}, modeAction)
		if got, _ := p.match(tt.action, nil); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.action, got, tt.want)
		}
	}
}

func TestARNMatch(t *testing.T) {
	tests := []struct {
		pattern, arn string
		want         bool
	}{
		{"*", "arn:aws:s3:::b/k", true},
		{"*", "", true},
		{"arn:aws:s3:::b", "arn:aws:s3:::b", true},
		{"arn:aws:s3:::b", "arn:aws:s3:::B", false}, // resources are case-sensitive
		{"arn:aws:s3:::b", "arn:aws:s3:::b/k", false},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b/k/deeper", true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b", false},
		{"arn:aws:s3:::b*", "arn:aws:s3:::bucket/key:with:colons", true},
		{"arn:aws:s3:::*/k", "arn:aws:s3:::b/k", true},
		{"arn:aws:ec2:*:" + acctA + ":instance/*", "arn:aws:ec2:eu-west-1:" + acctA + ":instance/i-1", true},
		{"arn:aws:ec2:*:" + acctA + ":instance/*", "arn:aws:ec2:eu-west-1:" + acctB + ":instance/i-1", false},
		// A * in one field never reaches into the next.
		{"arn:aws:ec2:*:instance/*", "arn:aws:ec2:eu-west-1:" + acctA + ":instance/i-1", false},
		{"arn:aws:ec2:us-*-1:*:*", "arn:aws:ec2:us-east-1:" + acctA + ":volume/v", true},
		{"arn:aws:ec2:us-?ast-1:*:*", "arn:aws:ec2:us-east-1:" + acctA + ":volume/v", true},
		{"arn:aws:iam::*:user/${*}", "arn:aws:iam::" + acctA + ":user/*", true},
		// Missing fields of a short pattern are wildcards.
		{"arn:aws:ec2", "arn:aws:ec2:us-east-1:" + acctA + ":instance/i-1", true},
		{"arn:aws:ec2:us-east-1", "arn:aws:ec2:us-east-1:" + acctA + ":instance/i-1", true},
		{"arn:aws:ec2:us-east-1", "arn:aws:ec2:us-west-2:" + acctA + ":instance/i-1", false},
		{"arn:aws:s3", "arn:aws:s3x:::b", false},
		// A value with fewer fields than the pattern is not what the pattern names.
		{"arn:aws:s3:::*", "arn:aws:s3", false},
		{"arn:aws:s3:::", "arn:aws:s3", false},
		{"arn:*", "arn", false},
		{"arn:aws:s3:::*", "*", false},
		// The resource field keeps its colons.
		{"arn:aws:logs:*:*:log-group:app:*", "arn:aws:logs:us-east-1:" + acctA + ":log-group:app:log-stream:x", true},
		{"arn:aws:logs:*:*:log-group:app:*", "arn:aws:logs:us-east-1:" + acctA + ":log-group:other:log-stream:x", false},
	}
	for _, tt := range tests {
		p := compilePattern(parseTemplate(tt.pattern, true), modeARN)
		if got, _ := p.match(tt.arn, &Request{}); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v (kind %d)", tt.pattern, tt.arn, got, tt.want, p.kind)
		}
	}
}
