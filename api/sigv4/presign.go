package sigv4

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parsePresigned reads the X-Amz-* query parameters of a presigned URL. Whether
// X-Amz-Expires is required depends on the service and is checked by the caller.
func parsePresigned(q []queryParam) (authInput, error) {
	in := authInput{presigned: true}
	var alg, cred string
	var haveAlg, haveCred, haveDate, haveHeaders, haveSig bool
	for _, p := range q {
		var dst *string
		var seen *bool
		switch p.key {
		case "X-Amz-Algorithm":
			dst, seen = &alg, &haveAlg
		case "X-Amz-Credential":
			dst, seen = &cred, &haveCred
		case "X-Amz-Date":
			dst, seen = &in.amzDate, &haveDate
		case "X-Amz-SignedHeaders":
			dst, seen = &in.signedRaw, &haveHeaders
		case "X-Amz-Signature":
			dst, seen = &in.signature, &haveSig
		case "X-Amz-Expires":
			dst, seen = &in.expires, &in.hasExpires
		case "X-Amz-Security-Token":
			dst = &in.token
		case "X-Amz-Content-Sha256":
			dst = &in.contentSHA
		default:
			continue
		}
		if seen != nil {
			if *seen {
				return in, &malformedAuth{
					s3:    fmt.Sprintf("The query parameter %s appears more than once.", p.key),
					query: fmt.Sprintf("AWS query-string parameter '%s' appears more than once. Re-examine the query-string parameters.", p.key),
				}
			}
			*seen = true
		}
		*dst = p.value
	}
	if haveCred {
		in.scope, in.scopeOK = parseCredential(cred)
	}
	var missing strings.Builder
	for _, c := range []struct {
		name string
		ok   bool
	}{{"X-Amz-Algorithm", haveAlg}, {"X-Amz-Credential", haveCred}, {"X-Amz-Signature", haveSig}, {"X-Amz-SignedHeaders", haveHeaders}, {"X-Amz-Date", haveDate}} {
		if !c.ok {
			fmt.Fprintf(&missing, "AWS query-string parameters must include '%s'. ", c.name)
		}
	}
	if missing.Len() > 0 {
		return in, &malformedAuth{
			s3:    AuthorizationQueryParametersError.Message,
			query: missing.String() + "Re-examine the query-string parameters.",
		}
	}
	switch alg {
	case algorithmHMAC:
	case algorithmSigV4A:
		return in, &unsupportedAuth{"Signature Version 4A (" + algorithmSigV4A + ")"}
	default:
		return in, &malformedAuth{
			s3:    "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
			query: fmt.Sprintf("Unsupported AWS 'algorithm': '%s'.", alg),
		}
	}
	if !in.scopeOK {
		return in, credentialMalformed(true, cred)
	}
	var ok bool
	if in.signedHeaders, ok = splitSignedHeaders(in.signedRaw); !ok {
		return in, &malformedAuth{
			s3:    "SignedHeaders is malformed.",
			query: fmt.Sprintf("AWS query-string parameter 'X-Amz-SignedHeaders' is malformed: '%s'.", in.signedRaw),
		}
	}
	return in, nil
}

// presignWindow checks a presigned URL's X-Amz-Expires and returns when the URL lapses. A
// presigned URL is meant to be used long after it was signed, so instead of the clock skew
// check the URL must be inside [X-Amz-Date - skew, X-Amz-Date + X-Amz-Expires].
func presignWindow(in *authInput, d Dialect, t, now time.Time, skew time.Duration) (time.Time, error) {
	if !in.hasExpires {
		return time.Time{}, d.malformed(true, &malformedAuth{
			s3:    AuthorizationQueryParametersError.Message,
			query: "AWS query-string parameters must include 'X-Amz-Expires'. Re-examine the query-string parameters.",
		})
	}
	secs, err := strconv.ParseInt(in.expires, 10, 64)
	switch {
	case err != nil:
		return time.Time{}, d.malformed(true, &malformedAuth{s3: "X-Amz-Expires should be a number", query: "X-Amz-Expires should be a number."})
	case secs < 0:
		return time.Time{}, d.malformed(true, &malformedAuth{s3: "X-Amz-Expires must be non-negative", query: "X-Amz-Expires must be non-negative."})
	case secs > maxPresignExpires:
		return time.Time{}, d.malformed(true, &malformedAuth{
			s3:    "X-Amz-Expires must be less than a week (in seconds) that is 604800",
			query: "X-Amz-Expires must be less than a week (in seconds) that is 604800.",
		})
	}
	expires := t.Add(time.Duration(secs) * time.Second)
	switch {
	case t.Sub(now) > skew:
		return time.Time{}, d.presignNotYetValid(t, now, skew)
	case now.After(expires):
		return time.Time{}, d.presignExpired(expires, now)
	}
	return expires, nil
}
