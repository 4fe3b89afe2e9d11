package iampolicy

import (
	"strings"
)

// validate applies IAM's checks beyond syntax to decoded statements, in IAM's order.
func validate(raws []rawStatement, kind Kind, version string, vars bool) error {
	if err := checkKind(raws, kind); err != nil {
		return err
	}
	if kind == IdentityPolicy && version != Version2012 {
		return malformed(msgVersion)
	}

	// IAM's "legacy parsing" rejects a wrongly cased Effect, unreadable dates and
	// resources too short to be ARNs; resource format problems found on the way are
	// reported later, after the checks for missing elements.
	for i := range raws {
		r := &raws[i]
		if r.effect != "Allow" && r.effect != "Deny" {
			return malformed(msgLegacy)
		}
		if !datesParse(r.condition, vars) {
			return malformed(msgLegacy)
		}
	}
	var resourceErr error
	for i := range raws {
		for _, list := range [][]string{raws[i].resource, raws[i].notResource} {
			for _, res := range list {
				if resourceErr == nil {
					resourceErr = checkResource(res)
				}
				if resourceErr == nil && !legacyResource(res) {
					return malformed(msgLegacy)
				}
			}
		}
	}

	if kind.iam() {
		seen := make(map[string]bool, len(raws))
		for i := range raws {
			sid := raws[i].sid
			if !alphanumeric(sid) {
				return malformed(msgSidAlphanumeric)
			}
			if sid != "" && seen[sid] {
				return malformed(msgSidUnique)
			}
			seen[sid] = true
		}
	}
	for i := range raws {
		r := &raws[i]
		if !r.hasAction && !r.hasNotAction || r.hasAction && len(r.action) == 0 || r.hasNotAction && len(r.notAction) == 0 {
			return malformed(msgNoActions)
		}
	}
	if kind != TrustPolicy {
		for i := range raws {
			r := &raws[i]
			if !r.hasResource && !r.hasNotResource || r.hasResource && len(r.resource) == 0 || r.hasNotResource && len(r.notResource) == 0 {
				return malformed(msgNoResources)
			}
		}
	}
	if resourceErr != nil {
		return resourceErr
	}

	for _, not := range []bool{false, true} {
		for i := range raws {
			list := raws[i].action
			if not {
				list = raws[i].notAction
			}
			for _, a := range list {
				if err := checkAction(a); err != nil {
					return err
				}
			}
		}
	}
	for i := range raws {
		if c := raws[i].condition; c != nil {
			for _, op := range c.members {
				for _, k := range op.val.members {
					if vendor, _, ok := strings.Cut(k.key, ":"); !ok || vendor == "" {
						return malformed(msgVendorPrefix)
					}
				}
			}
		}
	}
	if kind == TrustPolicy {
		for i := range raws {
			for _, a := range raws[i].action {
				if vendor, _, _ := strings.Cut(a, ":"); !strings.EqualFold(vendor, "sts") {
					return malformed(msgTrustActions)
				}
			}
		}
	}
	return nil
}

// checkKind enforces which principal and resource elements each kind of policy must or
// must not have.
func checkKind(raws []rawStatement, kind Kind) error {
	for i := range raws {
		r := &raws[i]
		switch kind {
		case IdentityPolicy:
			if r.principal != nil || r.notPrincipal != nil {
				return malformed(msgNoPrincipal)
			}
		case TrustPolicy:
			switch {
			case r.hasResource:
				return malformed(fmtProhibited, "Resource")
			case r.hasNotResource:
				return malformed(fmtProhibited, "NotResource")
			case r.notPrincipal != nil: // AWS documents NotPrincipal as not allowed in trust policies
				return malformed(fmtProhibited, "NotPrincipal")
			case r.principal == nil:
				return malformed(msgMissingPrincipal)
			}
		case ResourcePolicy:
			if r.principal == nil && r.notPrincipal == nil {
				return malformed(msgMissingPrincipal)
			}
		}
	}
	return nil
}

// datesParse reports whether every Date operator value that holds no variable is a date
// AWS can read.
func datesParse(cond *jsonNode, vars bool) bool {
	if cond == nil {
		return true
	}
	for _, op := range cond.members {
		o, _, _, known := parseOperator(op.key)
		if !known || o.op < opDateEquals || o.op > opDateGreaterThanEquals {
			continue
		}
		for _, k := range op.val.members {
			vals, _ := conditionValues(k.val)
			for _, v := range vals {
				if vars && strings.Contains(v, "${") {
					continue
				}
				if _, ok := parseDate(v); !ok {
					return false
				}
			}
		}
	}
	return true
}

// checkAction: "*" or "vendor:action", where the action part may hold wildcards.
func checkAction(a string) error {
	if a == "*" {
		return nil
	}
	vendor, name, ok := strings.Cut(a, ":")
	if !ok {
		return malformed(msgVendorPrefix)
	}
	if strings.Contains(name, ":") {
		return malformed(msgOneColon)
	}
	if vendor == "*" {
		return nil
	}
	if vendor == "" {
		return malformed(fmtVendor, vendor)
	}
	for i := 0; i < len(vendor); i++ {
		c := vendor[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return malformed(fmtVendor, vendor)
		}
	}
	return nil
}

// checkResource: "*" or an ARN with a known partition, a service without wildcards, and
// no region for the global services IAM knows to be global.
func checkResource(r string) error {
	if r == "*" {
		return nil
	}
	f := strings.SplitN(r, ":", 6)
	if len(f) < 2 || f[0] != "arn" {
		return malformed(fmtResourceARN, r)
	}
	if !validPartition(f[1]) {
		return malformed(fmtPartition, f[1], r)
	}
	if len(f) < 3 || strings.ContainsAny(f[2], "*?") {
		return malformed(msgResourceVendor)
	}
	if len(f) > 3 && f[3] != "" {
		switch f[2] {
		case "iam":
			return malformed(fmtIAMRegion, r)
		case "s3":
			return malformed(fmtS3Region, r)
		}
	}
	return nil
}

// legacyResource fails what IAM's legacy parser fails: an empty service, and a short ARN
// with an empty field ("arn:aws:s3::bucket"). Short ARNs without empty fields are fine
// ("arn:aws:s3:*" means every field after it is "*").
func legacyResource(r string) bool {
	if r == "*" {
		return true
	}
	if strings.Count(r, ":") < 5 && strings.Contains(r, "::") {
		return false
	}
	f := strings.SplitN(r, ":", 4)
	return len(f) < 3 || f[2] != ""
}

func validPartition(p string) bool {
	if p != "aws" && !strings.HasPrefix(p, "aws-") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; !(c >= 'a' && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

func alphanumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// compile turns a validated statement into its evaluable form.
func (r *rawStatement) compile(index int, vars bool) (*Statement, error) {
	st := &Statement{Index: index, Sid: r.sid, Effect: Allow}
	if r.effect == "Deny" {
		st.Effect = Deny
	}
	switch {
	case r.principal != nil:
		ps, err := compilePrincipal(r.principal)
		if err != nil {
			return nil, err
		}
		st.principals = ps
	case r.notPrincipal != nil:
		ps, err := compilePrincipal(r.notPrincipal)
		if err != nil {
			return nil, err
		}
		st.principals, st.notPrincipal = ps, true
	}

	actions := r.action
	if r.hasNotAction {
		actions, st.notAction = r.notAction, true
	}
	st.actions = make([]pattern, len(actions))
	for i, a := range actions {
		st.actions[i] = compilePattern(template{{kind: partText, text: a}}, modeAction)
	}

	resources := r.resource
	if r.hasNotResource {
		resources, st.notResource = r.notResource, true
	}
	st.hasResource = r.hasResource || r.hasNotResource
	st.resources = make([]pattern, len(resources))
	for i, res := range resources {
		st.resources[i] = compilePattern(parseTemplate(res, vars), modeARN)
	}

	if r.condition != nil {
		for _, op := range r.condition.members {
			o, set, ifExists, known := parseOperator(op.key)
			if !known {
				continue // an empty block of an unknown operator, which IAM ignores
			}
			for _, k := range op.val.members {
				vals, _ := conditionValues(k.val)
				st.conditions = append(st.conditions, compileCondition(o, set, ifExists, k.key, vals, vars))
			}
		}
	}
	return st, nil
}
