package iam

import (
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// accountQuotas are the quota entries of GetAccountSummary: AWS's default quotas, which
// are also the ones the actions here enforce where they enforce one.
var accountQuotas = map[string]int32{
	"UsersQuota":                        5000,
	"GroupsQuota":                       300,
	"RolesQuota":                        1000,
	"PoliciesQuota":                     1500,
	"InstanceProfilesQuota":             1000,
	"ServerCertificatesQuota":           20,
	"AccessKeysPerUserQuota":            maxKeysPerUser,
	"GroupsPerUserQuota":                maxGroupsPerUser,
	"AttachedPoliciesPerUserQuota":      maxAttached,
	"AttachedPoliciesPerGroupQuota":     maxAttached,
	"AttachedPoliciesPerRoleQuota":      maxAttached,
	"SigningCertificatesPerUserQuota":   2,
	"PolicySizeQuota":                   maxPolicySize,
	"PolicyVersionsInUseQuota":          10000,
	"VersionsPerPolicyQuota":            maxPolicyVersions,
	"UserPolicySizeQuota":               2048,
	"GroupPolicySizeQuota":              5120,
	"RolePolicySizeQuota":               10240,
	"AssumeRolePolicySizeQuota":         maxTrustPolicySize,
	"MFADevices":                        0,
	"MFADevicesInUse":                   0,
	"AccountMFAEnabled":                 0,
	"AccountSigningCertificatesPresent": 0,
	"ServerCertificates":                0,
	"Providers":                         0,
	"GlobalEndpointTokenVersion":        1,
}

// getAccountSummary counts the caller's account's entities from the replica.
func (f *front) getAccountSummary(c *service.Call) (*GetAccountSummaryResponse, error) {
	if err := c.Authorize("iam:GetAccountSummary", "*"); err != nil {
		return nil, err
	}
	st, acct := f.cluster.State(), c.Caller.AccountID
	m := make(map[string]int32, len(accountQuotas)+8)
	for k, v := range accountQuotas {
		m[k] = v
	}
	count := func(kind string) int32 { return int32(len(list(st, kind, acct))) }
	m["Users"] = count(state.KindUser)
	m["Groups"] = count(state.KindGroup)
	m["Roles"] = count(state.KindRole)
	m["Policies"] = count(state.KindPolicy)
	m["InstanceProfiles"] = count(state.KindInstanceProfile)
	m["AccountAccessKeysPresent"] = 0
	if len(userKeys(st, acct, "")) > 0 {
		m["AccountAccessKeysPresent"] = 1
	}
	// Versions of managed policies that are attached somewhere count as in use.
	var inUse int32
	for _, p := range list(st, state.KindPolicy, acct) {
		if p.Policy.Attachments > 0 {
			inUse += int32(len(p.Policy.Versions))
		}
	}
	m["PolicyVersionsInUse"] = inUse
	return &GetAccountSummaryResponse{SummaryMap: m}, nil
}
