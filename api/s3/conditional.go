package s3

import (
	"net/http"
	"strings"
	"time"

	"github.com/banyancloud/banyan/objectstore"
)

// etagMatches evaluates an If-Match / If-None-Match list against an object's ETag.
func etagMatches(list, etag string) bool {
	for _, c := range strings.Split(list, ",") {
		c = strings.TrimSpace(c)
		if c == "*" || unquoteETag(c) == etag {
			return true
		}
	}
	return false
}

func parseHTTPTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(s)
	return t, err == nil
}

// checkConditions applies the RFC 7232 preconditions with S3's precedence: a true
// If-Match overrides a false If-Unmodified-Since (412 otherwise), and a false
// If-None-Match overrides a true If-Modified-Since (304 otherwise). prefix is "" for
// GET/HEAD and "x-amz-copy-source-" for a copy source, where every failure is 412.
func checkConditions(h http.Header, prefix string, info objectstore.ObjectInfo) error {
	mod := info.ModTime.Truncate(time.Second)
	notModified := errNotModified
	if prefix != "" {
		notModified = errPreconditionFailed
	}
	if im := h.Get(prefix + "If-Match"); im != "" {
		if !etagMatches(im, info.ETag) {
			return errPreconditionFailed
		}
	} else if t, ok := parseHTTPTime(h.Get(prefix + "If-Unmodified-Since")); ok && mod.After(t) {
		return errPreconditionFailed
	}
	if inm := h.Get(prefix + "If-None-Match"); inm != "" {
		if etagMatches(inm, info.ETag) {
			return notModified
		}
	} else if t, ok := parseHTTPTime(h.Get(prefix + "If-Modified-Since")); ok && !mod.After(t) {
		return notModified
	}
	return nil
}
