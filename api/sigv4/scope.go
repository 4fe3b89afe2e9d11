package sigv4

import (
	"fmt"
	"net/http"
	"time"
)

// checkScopeAndTime checks the credential scope against the request's date and this
// cloud's regions, and the date against the clock. It returns the ISO 8601 timestamp that
// goes into the string to sign.
func (v *Verifier) checkScopeAndTime(r *http.Request, in *authInput, d Dialect) (*Result, string, error) {
	sc := in.scope
	if sc.terminal != scopeTerminal {
		return nil, "", d.badScope(in.presigned,
			fmt.Sprintf("incorrect terminal \"%s\". This endpoint uses \"aws4_request\".", sc.terminal),
			fmt.Sprintf("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", sc.terminal))
	}
	// S3 answers whatever region a client signs for (unless strict): a bucket here lives in
	// this cloud's one region, and a client configured for another region (aws --region
	// us-west-2) must still reach it, as SDKs reach a bucket through the global endpoint.
	if d == DialectS3 && v.S3Region != nil {
		if want, strict := v.S3Region(); strict && sc.region != want {
			e := d.badScope(in.presigned, fmt.Sprintf("the region '%s' is wrong; expecting '%s'", sc.region, want), "")
			e.Region = want
			return nil, "", e
		}
	}
	if v.Regions != nil && d != DialectS3 && !v.Regions(sc.region) {
		return nil, "", d.badScope(in.presigned,
			fmt.Sprintf("the region '%s' is wrong; it is not a region of this cloud.", sc.region),
			fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", sc.region))
	}

	amzDate, t, err := requestTime(r, in, d)
	if err != nil {
		return nil, "", err
	}
	if sc.date != amzDate[:8] {
		return nil, "", d.badScope(in.presigned,
			fmt.Sprintf("Invalid credential date \"%s\". This date is not the same as X-Amz-Date: \"%s\".", sc.date, amzDate[:8]),
			fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", sc.date, amzDate[:8], amzDate))
	}

	res := &Result{Service: sc.service, Region: sc.region, Presigned: in.presigned, Time: t}
	now, skew := v.now(), v.maxSkew()
	if !in.presigned || !in.hasExpires && d != DialectS3 {
		// A presigned URL outside S3 without X-Amz-Expires (some STS callers) gets the
		// header form's window.
		if t.Sub(now) > skew || now.Sub(t) > skew {
			return nil, "", d.skewed(t, now, skew)
		}
		return res, amzDate, nil
	}
	if res.Expires, err = presignWindow(in, d, t, now, skew); err != nil {
		return nil, "", err
	}
	return res, amzDate, nil
}

// requestTime returns the signing time from X-Amz-Date (query or header) or, failing that,
// the Date header, in the ISO 8601 basic form the string to sign uses.
func requestTime(r *http.Request, in *authInput, d Dialect) (string, time.Time, error) {
	v := in.amzDate
	if !in.presigned {
		v = r.Header.Get("X-Amz-Date")
	}
	if v != "" || in.presigned {
		t, err := time.Parse(iso8601, v)
		if err != nil || len(v) != len(iso8601) {
			return "", time.Time{}, d.badDate(in.presigned,
				fmt.Sprintf("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", v))
		}
		return v, t, nil
	}
	if date := r.Header.Get("Date"); date != "" {
		if t, err := http.ParseTime(date); err == nil {
			t = t.UTC()
			return t.Format(iso8601), t, nil
		}
	}
	return "", time.Time{}, d.badDate(in.presigned,
		"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization="+r.Header.Get("Authorization"))
}
