// Package sigv4 owns server-side authentication of AWS requests: it checks AWS Signature
// Version 4 exactly as AWS does (Authorization header and presigned query forms), the
// session token and expiry of the credential that signed, the request's clock skew, and the
// integrity of the body: a signed SHA-256, S3's aws-chunked streaming bodies with chained
// chunk signatures, and their trailing checksums.
//
// It answers failures with the AWS error codes the client would get from AWS itself. The same
// failure is worded differently by different families of services (S3 says InvalidAccessKeyId
// where IAM says InvalidClientTokenId and EC2 says AuthFailure); see Dialect.
//
// The front door uses it in two steps: ParseScope, a cheap peek at the service and region a
// request was signed for, to route it; then Verifier.Verify in the service's handler. Body
// checks finish only as the handler reads r.Body, so a handler must treat any error from
// reading the body as the request's answer and never commit what it read before the error.
//
// sigv4 does not decide what a principal may do (that is IAM policy evaluation, elsewhere in
// api/), nor which credentials exist (a CredentialStore answers that). Checksums sent as
// headers (Content-MD5, x-amz-checksum-*) belong to the S3 front end, which knows whether a
// header describes this body (PutObject) or something else (CompleteMultipartUpload).
package sigv4
