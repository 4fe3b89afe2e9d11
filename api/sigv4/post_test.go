package sigv4

import (
	"context"
	"testing"
)

// AWS's published browser-upload example (sigv4-post-example): the policy, the key and
// the signature the S3 documentation gives for it.
const (
	examplePostPolicy = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9"
	examplePostSig    = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
)

func examplePostForm() PostForm {
	return PostForm{Policy: examplePostPolicy, Algorithm: "AWS4-HMAC-SHA256",
		Credential: "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request", Date: "20151229T000000Z", Signature: examplePostSig}
}

func TestVerifyPostForm(t *testing.T) {
	store := staticStore{"AKIAIOSFODNN7EXAMPLE": {SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", Principal: "p"}}
	v := &Verifier{Credentials: store}
	res, err := v.VerifyPostForm(context.Background(), examplePostForm())
	if err != nil || res.Credential.Principal != "p" || res.Region != "us-east-1" {
		t.Fatalf("AWS's example: %+v %v", res, err)
	}

	for name, tc := range map[string]struct {
		change func(*PostForm)
		code   string
		status int
	}{
		"tampered policy":   {func(f *PostForm) { f.Policy = "e30=" }, "SignatureDoesNotMatch", 403},
		"other signature":   {func(f *PostForm) { f.Signature = examplePostSig[1:] + "0" }, "SignatureDoesNotMatch", 403},
		"unknown key":       {func(f *PostForm) { f.Credential = "AKIANOPE/20151229/us-east-1/s3/aws4_request" }, "InvalidAccessKeyId", 403},
		"SigV4a":            {func(f *PostForm) { f.Algorithm = "AWS4-ECDSA-P256-SHA256" }, "InvalidArgument", 400},
		"bad scope":         {func(f *PostForm) { f.Credential = "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/ec2/aws4_request" }, "InvalidArgument", 400},
		"short credential":  {func(f *PostForm) { f.Credential = "AKIAIOSFODNN7EXAMPLE/20151229" }, "InvalidArgument", 400},
		"date mismatch":     {func(f *PostForm) { f.Date = "20151230T000000Z" }, "InvalidArgument", 400},
		"unreadable date":   {func(f *PostForm) { f.Date = "yesterday" }, "InvalidArgument", 400},
		"token on long key": {func(f *PostForm) { f.SecurityToken = "tok" }, "InvalidToken", 400},
	} {
		f := examplePostForm()
		tc.change(&f)
		_, err := v.VerifyPostForm(context.Background(), f)
		t.Run(name, func(t *testing.T) { wantCode(t, err, tc.code, tc.status) })
	}

	// A temporary key needs its session token in the form.
	store["ASIATEMP"] = Credential{SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", SessionToken: "session"}
	f := examplePostForm()
	f.Credential = "ASIATEMP/20151229/us-east-1/s3/aws4_request"
	_, err = v.VerifyPostForm(context.Background(), f)
	wantCode(t, err, "InvalidAccessKeyId", 403)
	f.SecurityToken = "session"
	if _, err := v.VerifyPostForm(context.Background(), f); err != nil { // what is signed does not name the key ID
		t.Fatalf("with its session token: %v", err)
	}
	f.SecurityToken = "other"
	_, err = v.VerifyPostForm(context.Background(), f)
	wantCode(t, err, "InvalidToken", 400)
}
