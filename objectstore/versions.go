package objectstore

import (
	"context"

	"github.com/banyancloud/banyan/objectstore/disk"
)

// ListObjectVersions implements ObjectLayer: every agreed version and
// delete marker, keys in order, newest first within a key. A page can end
// inside a key; KeyMarker and VersionIDMarker resume after that version.
func (s *Store) ListObjectVersions(ctx context.Context, bucket string, opts ListVersionsOptions) (ListVersionsResult, error) {
	max := clampMax(opts.MaxKeys)
	var res ListVersionsResult
	n := 0
	full := false
	// emit adds the versions of key after skipTo (a version ID; "" = all).
	emit := func(key string, vs []disk.Version, skipTo string) {
		start := 0
		if skipTo != "" {
			start = len(vs)
			for i := range vs {
				if fromDiskVersionID(vs[i].VersionID) == skipTo {
					start = i + 1
					break
				}
			}
		}
		for i := start; i < len(vs); i++ {
			if n == max {
				full = true
				return
			}
			n++
			res.Versions = append(res.Versions, objectInfo(bucket, key, &vs[i], i == 0))
			res.NextKeyMarker, res.NextVersionIDMarker = key, fromDiskVersionID(vs[i].VersionID)
		}
	}
	if opts.KeyMarker != "" && opts.VersionIDMarker != "" {
		// The rest of the marker key's versions come first.
		if _, isCP := commonPrefix(opts.KeyMarker, opts.Prefix, opts.Delimiter); !isCP && len(opts.KeyMarker) >= len(opts.Prefix) && opts.KeyMarker[:len(opts.Prefix)] == opts.Prefix {
			st, err := s.readObject(ctx, bucket, opts.KeyMarker)
			if err != nil {
				return ListVersionsResult{}, err
			}
			emit(opts.KeyMarker, st.versions, opts.VersionIDMarker)
		}
	}
	it := s.listKeys(ctx, bucket, opts.Prefix, startAfter(opts.KeyMarker, opts.Prefix, opts.Delimiter))
	defer it.close()
	lastCP := ""
	for !full {
		key, vs, ok := it.next()
		if !ok {
			break
		}
		if key <= opts.KeyMarker {
			continue
		}
		if lastCP != "" && len(key) >= len(lastCP) && key[:len(lastCP)] == lastCP {
			it.skip(lastCP)
			continue
		}
		if cp, isCP := commonPrefix(key, opts.Prefix, opts.Delimiter); isCP {
			if cp == opts.KeyMarker {
				continue
			}
			if n == max {
				full = true
				break
			}
			n++
			lastCP = cp
			it.rolledUp()
			res.CommonPrefixes = append(res.CommonPrefixes, cp)
			res.NextKeyMarker, res.NextVersionIDMarker = cp, ""
			continue
		}
		emit(key, vs, "")
	}
	if it.err != nil {
		return ListVersionsResult{}, it.err
	}
	if err := ctx.Err(); err != nil {
		return ListVersionsResult{}, err
	}
	res.IsTruncated = full
	if !full {
		res.NextKeyMarker, res.NextVersionIDMarker = "", ""
	}
	return res, nil
}
