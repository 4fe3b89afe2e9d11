package s3

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/api/protocol/restxml"
	"github.com/banyancloud/banyan/cluster/state"
)

const maxCORSRules = 100

var corsMethods = map[string]bool{"GET": true, "PUT": true, "POST": true, "DELETE": true, "HEAD": true}

func decodeCORS(b *state.Bucket) []CORSRule {
	if len(b.CORS) == 0 {
		return nil
	}
	var rules []CORSRule
	if json.Unmarshal(b.CORS, &rules) != nil {
		return nil
	}
	return rules
}

func validateCORS(cfg *CORSConfiguration) error {
	if len(cfg.CORSRules) == 0 || len(cfg.CORSRules) > maxCORSRules {
		return errMalformedXML
	}
	for _, r := range cfg.CORSRules {
		if len(r.AllowedMethods) == 0 || len(r.AllowedOrigins) == 0 {
			return errMalformedXML
		}
		for _, m := range r.AllowedMethods {
			if !corsMethods[m] {
				return errInvalidRequest.WithMessage("Found unsupported HTTP method in CORS config. Unsupported method is %s", m)
			}
		}
		for _, o := range r.AllowedOrigins {
			if strings.Count(o, "*") > 1 {
				return errInvalidRequest.WithMessage("AllowedOrigin %q can not have more than one wildcard.", o)
			}
		}
		for _, h := range r.AllowedHeaders {
			if strings.Count(h, "*") > 1 {
				return errInvalidRequest.WithMessage("AllowedHeader %q can not have more than one wildcard.", h)
			}
		}
		if r.ID != nil && len(*r.ID) > 255 {
			return errInvalidArgument.WithMessage("The ID of a CORS rule cannot be longer than 255 characters.")
		}
	}
	return nil
}

func (q *request) putBucketCORS() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:PutBucketCORS", bucketARN(b.Name), nil); err != nil {
		return err
	}
	var cfg CORSConfiguration
	if err := restxml.ReadXML(q.r, 0, &cfg); err != nil {
		return err
	}
	if err := validateCORS(&cfg); err != nil {
		return err
	}
	enc, _ := json.Marshal(cfg.CORSRules)
	return q.updateBucket(func(b *state.Bucket) error { b.CORS = enc; return nil })
}

func (q *request) getBucketCORS() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	if err := q.authorize(b, "s3:GetBucketCORS", bucketARN(b.Name), nil); err != nil {
		return err
	}
	rules := decodeCORS(b)
	if rules == nil {
		return errNoSuchCORS
	}
	return restxml.WriteXML(q.w, http.StatusOK, "CORSConfiguration", &CORSConfiguration{CORSRules: rules})
}

func (q *request) deleteBucketCORS() error {
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	// S3 has no DeleteBucketCORS action: PutBucketCORS governs it.
	if err := q.authorize(b, "s3:PutBucketCORS", bucketARN(b.Name), nil); err != nil {
		return err
	}
	if err := q.updateBucket(func(b *state.Bucket) error { b.CORS = nil; return nil }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// wildcardMatch matches s against a pattern with at most one '*', case-insensitively
// when fold is set (header names).
func wildcardMatch(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	pre, post, star := strings.Cut(pattern, "*")
	if !star {
		return pattern == s
	}
	return len(s) >= len(pre)+len(post) && strings.HasPrefix(s, pre) && strings.HasSuffix(s, post)
}

// matchCORS returns the first rule allowing origin, method and every requested header.
func matchCORS(rules []CORSRule, origin, method string, headers []string) *CORSRule {
	for i := range rules {
		r := &rules[i]
		okOrigin := false
		for _, o := range r.AllowedOrigins {
			if wildcardMatch(o, origin, false) {
				okOrigin = true
				break
			}
		}
		okMethod := false
		for _, m := range r.AllowedMethods {
			if m == method {
				okMethod = true
				break
			}
		}
		if !okOrigin || !okMethod {
			continue
		}
		okHeaders := true
		for _, h := range headers {
			found := false
			for _, a := range r.AllowedHeaders {
				if wildcardMatch(a, h, true) {
					found = true
					break
				}
			}
			if !found {
				okHeaders = false
				break
			}
		}
		if okHeaders {
			return r
		}
	}
	return nil
}

func setCORSHeaders(h http.Header, r *CORSRule, origin string) {
	allowOrigin := origin
	for _, o := range r.AllowedOrigins {
		if o == "*" {
			allowOrigin = "*"
			break
		}
	}
	h.Set("Access-Control-Allow-Origin", allowOrigin)
	if allowOrigin != "*" {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(r.AllowedMethods, ", "))
	if len(r.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(r.ExposeHeaders, ", "))
	}
	if r.MaxAgeSeconds != nil {
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(*r.MaxAgeSeconds)))
	}
	h.Add("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
}

// preflightCORS answers an OPTIONS preflight. Browsers send it without credentials, so
// it is answered from the bucket's CORS rules alone, which is all it reveals.
func (q *request) preflightCORS() error {
	q.call.NoAuthorizationRequired()
	origin := q.r.Header.Get("Origin")
	method := q.r.Header.Get("Access-Control-Request-Method")
	if q.bucket == "" {
		return errMethodNotAllowed
	}
	if origin == "" || method == "" {
		return errCORSBadRequest
	}
	b, err := q.loadBucket()
	if err != nil {
		return err
	}
	rules := decodeCORS(b)
	if rules == nil {
		return errCORSNotEnabled
	}
	var headers []string
	if rh := q.r.Header.Get("Access-Control-Request-Headers"); rh != "" {
		for _, h := range strings.Split(rh, ",") {
			if h = strings.TrimSpace(h); h != "" {
				headers = append(headers, h)
			}
		}
	}
	rule := matchCORS(rules, origin, method, headers)
	if rule == nil {
		return errCORSForbidden
	}
	h := q.w.Header()
	setCORSHeaders(h, rule, origin)
	if len(headers) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(headers, ", "))
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// applyCORS adds the Access-Control-* headers to an actual cross-origin request that a
// rule of the bucket allows.
func (q *request) applyCORS() {
	origin := q.r.Header.Get("Origin")
	if origin == "" || q.bucket == "" {
		return
	}
	b, err := q.f.cluster.State().Bucket(q.bucket)
	if err != nil {
		return
	}
	if rules := decodeCORS(b); rules != nil {
		if rule := matchCORS(rules, origin, q.r.Method, nil); rule != nil {
			setCORSHeaders(q.w.Header(), rule, origin)
		}
	}
}
