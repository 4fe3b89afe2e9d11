package iam

import (
	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/service"
)

// requireMFASession refuses an IAM action called with GetSessionToken credentials that
// were issued without MFA, as AWS does: such a session may call any other service, but
// no IAM action (whatever the user's policies allow), so that a leaked session token
// cannot make keys, users or policies. Role sessions are not affected.
func requireMFASession(action string, h service.Handler) service.Handler {
	return func(c *service.Call, in any) (any, error) {
		if c.Caller != nil && c.Caller.Session.IssuedWithoutMFA() {
			return nil, awserr.AccessDenied.WithMessage("Cannot call %s with session credentials unless MFA authentication information is included in the request: GetSessionToken credentials issued without MFA may call no IAM action. Use the long-term access key instead.", action)
		}
		return h(c, in)
	}
}
