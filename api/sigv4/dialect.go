package sigv4

import (
	"net/http"
	"strings"
)

// Dialect is how a family of AWS services words an authentication failure. AWS answers the
// same mistake differently depending on who is asked: an unknown access key is
// InvalidAccessKeyId (403) to S3, InvalidClientTokenId (403) to IAM and STS, AuthFailure (401)
// to EC2 and UnrecognizedClientException (400) to the JSON services. Clients and scripts
// match on these codes, so Banyan has to pick the one the asked service would.
type Dialect uint8

const (
	// DialectQuery is the awsQuery services: IAM, STS, Auto Scaling, Elastic Load Balancing,
	// CloudWatch, SNS, SQS (which keeps its query codes over JSON) and anything unlisted.
	DialectQuery Dialect = iota
	// DialectS3 is S3 (rest-xml), which has its own codes for almost every failure.
	DialectS3
	// DialectEC2 is the EC2 query protocol: AuthFailure and RequestExpired.
	DialectEC2
	// DialectJSON is the awsJson and rest-json services: the *Exception codes, all 400.
	DialectJSON
)

func (d Dialect) String() string {
	switch d {
	case DialectS3:
		return "s3"
	case DialectEC2:
		return "ec2"
	case DialectJSON:
		return "json"
	}
	return "query"
}

// jsonServices are signing names of services that speak awsJson or rest-json and therefore
// word failures as UnrecognizedClientException, InvalidSignatureException and so on.
var jsonServices = map[string]bool{
	"dynamodb":       true,
	"ecr":            true,
	"ecs":            true,
	"events":         true,
	"kinesis":        true,
	"kms":            true,
	"lambda":         true,
	"logs":           true,
	"secretsmanager": true,
	"ssm":            true,
}

// DialectOf returns the dialect of the service with the given signing name (the service
// element of the credential scope, e.g. "s3", "ec2", "iam").
func DialectOf(service string) Dialect {
	switch {
	case service == "s3":
		return DialectS3
	case service == "ec2":
		return DialectEC2
	case jsonServices[service]:
		return DialectJSON
	}
	return DialectQuery
}

// guessDialect picks a dialect from the shape of a request whose credential scope could not
// be read (a SigV2 request, a garbled Authorization header). It follows how the wire
// protocols differ: JSON services carry X-Amz-Target or an x-amz-json content type, query
// services an Action parameter or a form body; anything else on this port is S3's REST API.
func guessDialect(r *http.Request) Dialect {
	ct := r.Header.Get("Content-Type")
	switch {
	case r.Header.Get("X-Amz-Target") != "" || strings.HasPrefix(ct, "application/x-amz-json"):
		return DialectJSON
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"),
		r.Header.Get("Smithy-Protocol") != "",
		strings.HasPrefix(r.URL.RawQuery, "Action=") || strings.Contains(r.URL.RawQuery, "&Action="):
		return DialectQuery
	}
	return DialectS3
}
