package iam

import (
	"encoding/base64"
	"sort"
)

// defaultMaxItems is IAM's page size when MaxItems is absent.
const defaultMaxItems = 100

// paginate cuts one page out of items, which it sorts by key. The marker it returns is
// the key of the next page's first item, encoded so that clients treat it as opaque; a
// page after a marker starts at the first item at or after that key, so items created or
// deleted between calls never make a listing skip or repeat the others.
func paginate[T any](items []T, key func(T) string, marker *string, maxItems *int32) (page []T, truncated *bool, next *string, err error) {
	sort.SliceStable(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	start := 0
	if marker != nil {
		k, derr := base64.RawURLEncoding.DecodeString(*marker)
		if derr != nil {
			return nil, nil, nil, errInvalidInput("Invalid Marker: %s. Pass the Marker of the previous response unchanged.", *marker)
		}
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) >= string(k) })
	}
	n := defaultMaxItems
	if maxItems != nil {
		n = int(*maxItems)
	}
	end := min(start+n, len(items))
	page = items[start:end]
	if end < len(items) {
		return page, ptr(true), ptr(base64.RawURLEncoding.EncodeToString([]byte(key(items[end])))), nil
	}
	return page, ptr(false), nil, nil
}
