package sigv4

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// PostForm is the signature of a browser-based upload: an HTML form POSTed to a bucket
// (what boto3's generate_presigned_post prepares). Such a request has no Authorization
// header; the form's fields carry the credential, and what is signed is the base64 policy
// document itself (the string to sign), under the same signing key as any SigV4 request.
type PostForm struct {
	Policy        string // the "policy" field, base64 as sent
	Algorithm     string // x-amz-algorithm
	Credential    string // x-amz-credential: AKID/date/region/s3/aws4_request
	Date          string // x-amz-date, ISO 8601 basic
	Signature     string // x-amz-signature, lower-case hex
	SecurityToken string // x-amz-security-token, for temporary credentials
}

// VerifyPostForm checks a browser-upload signature: the credential scope, the key (and the
// session token a temporary key needs) and HMAC(signing key, policy). The request time is
// not held to the clock's skew: for a POST the policy's expiration is what bounds it, and
// the caller checks that. ctx reaches the CredentialStore (an STS token in it).
//
// Errors are S3's *awserr.Error, except the CredentialStore's own, returned wrapped.
func (v *Verifier) VerifyPostForm(ctx context.Context, f PostForm) (*Result, error) {
	d := DialectS3
	if f.Algorithm != algorithmHMAC {
		return nil, InvalidArgument.WithMessage("Unsupported algorithm %q in the x-amz-algorithm field; use %s.", f.Algorithm, algorithmHMAC)
	}
	sc, ok := parseCredential(f.Credential)
	if !ok {
		return nil, InvalidArgument.WithMessage("Invalid credential in the x-amz-credential field: %q; it must be ACCESS-KEY/YYYYMMDD/REGION/s3/aws4_request.", f.Credential)
	}
	if sc.terminal != scopeTerminal || sc.service != "s3" {
		return nil, InvalidArgument.WithMessage("Invalid credential scope in the x-amz-credential field: %q; it must end in /s3/aws4_request.", f.Credential)
	}
	t, err := time.Parse(iso8601, f.Date)
	if err != nil || len(f.Date) != len(iso8601) {
		return nil, InvalidArgument.WithMessage("Invalid x-amz-date field %q: it must be in the ISO 8601 basic format (20060102T150405Z).", f.Date)
	}
	if sc.date != f.Date[:8] {
		return nil, InvalidArgument.WithMessage("Invalid credential date %q: it is not the date of the x-amz-date field %q.", sc.date, f.Date)
	}
	if v.Credentials == nil {
		return nil, errors.New("sigv4: Verifier has no CredentialStore")
	}
	cred, err := v.Credentials.LookupAccessKey(ctx, sc.accessKeyID)
	switch {
	case errors.Is(err, ErrUnknownAccessKey):
		return nil, d.unknownKey()
	case err != nil:
		return nil, fmt.Errorf("sigv4: looking up access key %s: %w", sc.accessKeyID, err)
	}
	if cred.AccessKeyID == "" {
		cred.AccessKeyID = sc.accessKeyID
	}
	// The token comes in the form, not in a header: checkToken reads the header only
	// when the input has none, so an empty request stands in.
	in := authInput{token: f.SecurityToken}
	if err := v.checkToken(&http.Request{Header: http.Header{}}, &in, d, cred); err != nil {
		return nil, err
	}
	key := signingKeys.get(cred.SecretAccessKey, sc.date, sc.region, sc.service)
	if !hmac.Equal([]byte(signature(key[:], f.Policy)), []byte(f.Signature)) {
		return nil, &SignatureError{Err: S3SignatureDoesNotMatch, StringToSign: f.Policy}
	}
	return &Result{Credential: cred, Service: sc.service, Region: sc.region, Time: t}, nil
}
