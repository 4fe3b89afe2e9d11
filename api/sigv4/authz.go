package sigv4

import (
	"fmt"
	"net/http"
	"strings"
)

const (
	algorithmHMAC   = "AWS4-HMAC-SHA256"
	algorithmSigV4A = "AWS4-ECDSA-P256-SHA256"
	scopeTerminal   = "aws4_request"
	iso8601         = "20060102T150405Z"

	// maxPresignExpires is AWS's limit on X-Amz-Expires: seven days.
	maxPresignExpires = 7 * 24 * 60 * 60
)

// credentialScope is the Credential element, AKID/date/region/service/aws4_request.
type credentialScope struct {
	accessKeyID, date, region, service, terminal string
}

// String returns the scope as it appears in the string to sign (without the key ID).
func (s credentialScope) String() string {
	return s.date + "/" + s.region + "/" + s.service + "/" + s.terminal
}

func parseCredential(v string) (credentialScope, bool) {
	var p [5]string
	for i := 0; i < 4; i++ {
		var ok bool
		p[i], v, ok = strings.Cut(v, "/")
		// The region may be empty (botocore signs so for region_name=''): that is a
		// wrong region, which checkScopeAndTime answers as such, not a malformed scope.
		if !ok || p[i] == "" && i != 2 {
			return credentialScope{}, false
		}
	}
	if v == "" || strings.IndexByte(v, '/') >= 0 {
		return credentialScope{}, false
	}
	p[4] = v
	return credentialScope{accessKeyID: p[0], date: p[1], region: p[2], service: p[3], terminal: p[4]}, true
}

// authInput is what a request claims about its own signature, from either the Authorization
// header or the presigned query parameters.
type authInput struct {
	presigned     bool
	scope         credentialScope
	scopeOK       bool     // scope parsed, even if something else was malformed
	signedHeaders []string // lower case
	signedRaw     string   // SignedHeaders exactly as sent: it goes into the canonical request
	signature     string

	// Presigned requests carry these in the query rather than in headers.
	amzDate    string
	expires    string
	hasExpires bool
	token      string
	contentSHA string
}

// unsupportedAuth is a request authenticated by something other than SigV4 with HMAC.
type unsupportedAuth struct{ what string }

func (u *unsupportedAuth) Error() string { return "unsupported authentication: " + u.what }

func credentialMalformed(presigned bool, v string) *malformedAuth {
	const expect = "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
	m := &malformedAuth{query: fmt.Sprintf("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", v)}
	if presigned {
		m.s3 = "Error parsing the X-Amz-Credential parameter; " + expect
	} else {
		m.s3 = "The authorization header is malformed; " + expect
	}
	return m
}

// parseAuthorization reads an "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=..." header. Components may come in any order with or without spaces after the
// commas, as AWS accepts; unknown components are ignored.
func parseAuthorization(v string) (authInput, error) {
	var in authInput
	alg, rest, _ := strings.Cut(strings.TrimLeft(v, " "), " ")
	switch alg {
	case algorithmHMAC:
	case "AWS":
		return in, &unsupportedAuth{"Signature Version 2 (AWS AKID:signature)"}
	case algorithmSigV4A:
		return in, &unsupportedAuth{"Signature Version 4A (" + algorithmSigV4A + ")"}
	default:
		return in, &unsupportedAuth{fmt.Sprintf("the %.40q authorization scheme", alg)}
	}
	var haveCred, haveHeaders, haveSig bool
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return in, &malformedAuth{
				s3:    "The authorization header is malformed; the authorization component \"" + part + "\" is malformed.",
				query: fmt.Sprintf("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", part, v),
			}
		}
		dup := false
		switch k {
		case "Credential":
			dup, haveCred = haveCred, true
			if in.scope, in.scopeOK = parseCredential(val); !in.scopeOK {
				return in, credentialMalformed(false, val)
			}
		case "SignedHeaders":
			dup, haveHeaders = haveHeaders, true
			in.signedRaw = val
		case "Signature":
			dup, haveSig = haveSig, true
			in.signature = val
		}
		if dup {
			return in, &malformedAuth{
				s3:    "The authorization header is malformed; the authorization header has a duplicate " + k + " component.",
				query: fmt.Sprintf("Authorization header has a duplicate '%s' parameter. Authorization=%s", k, v),
			}
		}
	}
	var missing strings.Builder
	for _, c := range []struct {
		name string
		ok   bool
	}{{"Credential", haveCred}, {"Signature", haveSig}, {"SignedHeaders", haveHeaders}} {
		if !c.ok {
			fmt.Fprintf(&missing, "Authorization header requires '%s' parameter. ", c.name)
		}
	}
	if missing.Len() > 0 {
		return in, &malformedAuth{
			s3:    "The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.",
			query: missing.String() + "Authorization=" + v,
		}
	}
	var ok bool
	if in.signedHeaders, ok = splitSignedHeaders(in.signedRaw); !ok {
		return in, &malformedAuth{
			s3:    "The authorization header is malformed; the SignedHeaders component is malformed.",
			query: fmt.Sprintf("Authorization header has an invalid 'SignedHeaders' parameter '%s'. Authorization=%s", in.signedRaw, v),
		}
	}
	return in, nil
}

// splitSignedHeaders splits "host;x-amz-date" into lower-case names, refusing empty ones.
func splitSignedHeaders(v string) ([]string, bool) {
	if v == "" {
		return nil, false
	}
	names := make([]string, 0, strings.Count(v, ";")+1)
	for v != "" {
		var n string
		n, v, _ = strings.Cut(v, ";")
		if n == "" {
			return nil, false
		}
		names = append(names, strings.ToLower(n))
	}
	return names, true
}

// ParseScope reads the region and service a request was signed for, from its Authorization
// header or its X-Amz-Credential query parameter, without verifying anything. The router
// uses it to pick the service before verification; ok is false for anonymous requests and
// for credentials it cannot read. It reads the credential the way Verify will, so the two
// never disagree about the service of a request Verify accepts.
func ParseScope(r *http.Request) (service, region string, ok bool) {
	cred, found := "", false
	if v := r.Header.Get("Authorization"); v != "" {
		rest, isV4 := strings.CutPrefix(strings.TrimLeft(v, " "), algorithmHMAC+" ")
		for isV4 && rest != "" && !found {
			var part string
			part, rest, _ = strings.Cut(rest, ",")
			cred, found = strings.CutPrefix(strings.TrimSpace(part), "Credential=")
		}
	} else {
		for raw := r.URL.RawQuery; raw != "" && !found; {
			var kv string
			kv, raw, _ = strings.Cut(raw, "&")
			k, v, _ := strings.Cut(kv, "=")
			if found = queryUnescape(k) == "X-Amz-Credential"; found {
				cred = queryUnescape(v)
			}
		}
	}
	if !found {
		return "", "", false
	}
	s, ok := parseCredential(cred)
	if !ok {
		return "", "", false
	}
	return s.service, s.region, true
}
