package iampolicy

import (
	"net/http"

	"github.com/banyancloud/banyan/api/awserr"
)

// MalformedPolicyDocument is IAM's answer to a policy document it will not store. Parse
// returns copies of it whose message says what is wrong, in IAM's own words, because tools
// (Terraform, CloudFormation, the console) show those words to people who then search for
// them.
//
// Other services answer the same problems with their own code (S3 says MalformedPolicy);
// their front ends re-code the error, keeping the message.
var MalformedPolicyDocument = awserr.New("MalformedPolicyDocument", http.StatusBadRequest, msgSyntax)

// The messages IAM returns, as it words them (including its inconsistent punctuation).
const (
	msgSyntax           = "Syntax errors in policy."
	msgVersion          = "Policy document must be version 2012-10-17 or greater."
	msgLegacy           = "The policy failed legacy parsing"
	msgSidUnique        = "Statement IDs (SID) in a single policy must be unique."
	msgSidAlphanumeric  = "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
	msgNoActions        = "Policy statement must contain actions."
	msgNoResources      = "Policy statement must contain resources."
	msgNoPrincipal      = "Policy document should not specify a principal."
	msgMissingPrincipal = "Missing required field Principal"
	msgVendorPrefix     = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
	msgOneColon         = "Actions/Condition can contain only one colon."
	msgResourceVendor   = "Resource vendor must be fully qualified and cannot contain regexes."
	msgTrustActions     = "AssumeRole policy may only specify STS AssumeRole actions."
	fmtVendor           = "Vendor %s is not valid"
	fmtResourceARN      = `Resource %s must be in ARN format or "*".`
	fmtPartition        = `Partition "%s" is not valid for resource "%s".`
	fmtIAMRegion        = "IAM resource %s cannot contain region information."
	fmtS3Region         = "Resource %s can not contain region information."
	fmtProhibited       = "Has prohibited field %s"
	fmtInvalidPrincipal = `Invalid principal in policy: "%s":"%s"`
)

func malformed(format string, args ...any) *awserr.Error {
	if len(args) == 0 {
		return MalformedPolicyDocument.WithMessage("%s", format)
	}
	return MalformedPolicyDocument.WithMessage(format, args...)
}
