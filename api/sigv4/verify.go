package sigv4

import (
	"crypto/hmac"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

const (
	defaultMaxSkew = 15 * time.Minute
	defaultMaxBody = 8 << 20
)

// Verifier authenticates requests signed with AWS Signature Version 4. Set Credentials; the
// other fields have AWS's defaults. A Verifier is safe for concurrent use.
type Verifier struct {
	Credentials CredentialStore
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew is how far a request's signing time may be from now; 0 means AWS's 15 minutes.
	MaxSkew time.Duration
	// Regions reports whether a region in a credential scope is served here; nil accepts any.
	// S3 requests are let through whatever region they name unless S3Region says strict.
	Regions func(region string) bool
	// S3Region, when set and strict, makes S3 refuse requests signed for another region
	// than region as AWS does (AuthorizationHeaderMalformed, or for a presigned URL
	// AuthorizationQueryParametersError, naming the region to sign for), so that SDKs sign
	// again for it; otherwise S3 answers any region as its own.
	S3Region func() (region string, strict bool)
	// MaxBody bounds the body of non-S3 requests, which is read whole during Verify because
	// its hash is signed; 0 means 8 MiB.
	MaxBody int64
	// Dialect chooses how failures are worded for a service; nil means DialectOf.
	Dialect func(service string) Dialect
}

// Result describes an authenticated request.
type Result struct {
	// Credential is the credential that signed, as the store returned it (with Principal).
	Credential Credential
	// Service and Region are from the credential scope.
	Service, Region string
	// Anonymous is set for a request with no authentication at all; nothing else is set
	// then, and whether to serve it (bucket policy, public read) is the caller's decision.
	Anonymous bool
	// Presigned is set when the signature came in the query string.
	Presigned bool
	// Payload is how the body is protected.
	Payload PayloadMode
	// Time is the request's signing time; for a presigned URL, Expires is when it lapses.
	Time, Expires time.Time

	trailer func() http.Header
}

// Trailer returns the trailing headers of an aws-chunked body (x-amz-checksum-crc32 and the
// like, already checked against the decoded bytes) once r.Body has been read to EOF without
// error; nil before that and for other bodies.
func (r *Result) Trailer() http.Header {
	if r.trailer == nil {
		return nil
	}
	return r.trailer()
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now().UTC()
	}
	return time.Now().UTC()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return defaultMaxSkew
}

func (v *Verifier) dialect(in *authInput, r *http.Request) Dialect {
	switch {
	case !in.scopeOK:
		return guessDialect(r)
	case v.Dialect != nil:
		return v.Dialect(in.scope.service)
	}
	return DialectOf(in.scope.service)
}

// Verify authenticates r. On success the Result says who signed, and r.Body has been
// replaced by a reader that enforces the signed payload: reading it yields the decoded
// bytes and fails (with the AWS error to answer) if they don't match what was signed. For
// an aws-chunked body, r.ContentLength becomes the decoded length and "aws-chunked" is
// removed from Content-Encoding. A request without any authentication is not an error: see
// Result.Anonymous.
//
// Errors are *awserr.Error (a signature mismatch is a *SignatureError wrapping one), worded
// in the dialect of the service named in the credential scope, except for errors of the
// CredentialStore, which are returned wrapped as they are.
func (v *Verifier) Verify(r *http.Request) (*Result, error) {
	authz := r.Header.Values("Authorization")
	q := parseQuery(r.URL.RawQuery)
	presigned := slices.ContainsFunc(q, func(p queryParam) bool {
		return p.key == "X-Amz-Credential" || p.key == "X-Amz-Algorithm" || p.key == "X-Amz-Signature"
	})
	if len(authz) == 0 && !presigned {
		if hasParam(q, "AWSAccessKeyId") && hasParam(q, "Signature") {
			return nil, guessDialect(r).unsupported("Signature Version 2 (AWSAccessKeyId and Signature query parameters)")
		}
		return &Result{Anonymous: true}, nil
	}

	var in authInput
	var err error
	if len(authz) > 0 {
		in, err = parseAuthorization(authz[0])
		switch {
		case presigned:
			return nil, v.dialect(&in, r).bothMechanisms()
		case len(authz) > 1 && err == nil:
			err = &malformedAuth{
				s3:    "The authorization header is malformed; the request has more than one Authorization header.",
				query: "The request has more than one Authorization header.",
			}
		}
	} else {
		in, err = parsePresigned(q)
	}
	d := v.dialect(&in, r)
	if err != nil {
		if u, ok := errors.AsType[*unsupportedAuth](err); ok {
			return nil, d.unsupported(u.what)
		}
		return nil, d.malformed(in.presigned, err.(*malformedAuth))
	}

	res, amzDate, err := v.checkScopeAndTime(r, &in, d)
	if err != nil {
		return nil, err
	}
	if err := checkSignedHeaders(r, &in, d); err != nil {
		return nil, err
	}
	if v.Credentials == nil {
		return nil, errors.New("sigv4: Verifier has no CredentialStore")
	}
	cred, err := v.Credentials.LookupAccessKey(r.Context(), in.scope.accessKeyID)
	switch {
	case errors.Is(err, ErrUnknownAccessKey):
		return nil, d.unknownKey()
	case err != nil:
		return nil, fmt.Errorf("sigv4: looking up access key %s: %w", in.scope.accessKeyID, err)
	}
	if cred.AccessKeyID == "" {
		cred.AccessKeyID = in.scope.accessKeyID
	}
	if err := v.checkToken(r, &in, d, cred); err != nil {
		return nil, err
	}

	payload, mode, sum, err := v.payloadHash(r, &in, d)
	if err != nil {
		return nil, err
	}
	key := signingKeys.get(cred.SecretAccessKey, in.scope.date, in.scope.region, in.scope.service)
	if err := checkSignature(r, q, &in, d, key[:], amzDate, payload); err != nil {
		return nil, err
	}

	res.Credential = cred
	res.Payload = mode
	if d == DialectS3 {
		if err := installBody(r, res, &in, key[:], amzDate, sum); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func hasParam(q []queryParam, key string) bool {
	return slices.ContainsFunc(q, func(p queryParam) bool { return p.key == key })
}

// checkSignedHeaders insists that Host is signed (so a signature can't be replayed against
// another endpoint) and, for S3, that every x-amz-* header is: they change what an
// operation does (x-amz-acl, x-amz-copy-source), and S3 refuses them unsigned.
func checkSignedHeaders(r *http.Request, in *authInput, d Dialect) error {
	if !slices.Contains(in.signedHeaders, "host") {
		return d.headersNotSigned("host")
	}
	if d != DialectS3 {
		return nil
	}
	var unsigned []string
	for k := range r.Header {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "x-amz-") || slices.Contains(in.signedHeaders, lk) {
			continue
		}
		switch lk {
		case "x-amz-content-sha256", "x-amz-date", "x-amz-security-token":
			// Covered otherwise: the payload line, the string to sign, the token check.
			continue
		}
		unsigned = append(unsigned, lk)
	}
	if len(unsigned) > 0 {
		slices.Sort(unsigned)
		return d.headersNotSigned(strings.Join(unsigned, ","))
	}
	return nil
}

// checkToken matches X-Amz-Security-Token against the credential's session token, and the
// credential's expiry against the clock. A long-term key with a token is refused as AWS
// does: a stale AWS_SESSION_TOKEN left in a shell is a common mistake worth surfacing.
func (v *Verifier) checkToken(r *http.Request, in *authInput, d Dialect, cred Credential) error {
	tok := in.token
	if tok == "" {
		tok = r.Header.Get("X-Amz-Security-Token")
	}
	switch {
	case cred.SessionToken == "" && tok != "":
		return d.invalidToken()
	case cred.SessionToken != "" && tok == "":
		return d.unknownKey()
	case subtle.ConstantTimeCompare([]byte(tok), []byte(cred.SessionToken)) != 1:
		return d.invalidToken()
	case !cred.Expires.IsZero() && !v.now().Before(cred.Expires):
		return d.expiredToken()
	}
	return nil
}

// checkSignature recomputes the signature. For S3 a second reading of the path is tried
// when the wire encoding isn't the canonical one (see s3PathVariant).
func checkSignature(r *http.Request, q []queryParam, in *authInput, d Dialect, key []byte, amzDate, payload string) error {
	path := wirePath(r)
	var pathBuf []byte
	if d == DialectS3 {
		pathBuf = []byte(path)
	} else {
		pathBuf = normalizedPath(make([]byte, 0, len(path)+16), path)
	}
	canonical := canonicalRequest(make([]byte, 0, 1024), r, pathBuf, q, in, payload)
	sts := stringToSign(amzDate, in.scope, canonical)
	if hmac.Equal([]byte(signature(key, sts)), []byte(in.signature)) {
		return nil
	}
	if d == DialectS3 {
		if alt, ok := s3PathVariant(path); ok {
			c2 := canonicalRequest(make([]byte, 0, 1024), r, []byte(alt), q, in, payload)
			if hmac.Equal([]byte(signature(key, stringToSign(amzDate, in.scope, c2))), []byte(in.signature)) {
				return nil
			}
		}
	}
	return d.signatureMismatch(canonical, sts)
}
