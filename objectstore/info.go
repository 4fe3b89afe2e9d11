package objectstore

import (
	"maps"
	"strings"

	"github.com/banyancloud/banyan/objectstore/disk"
)

// Keys of disk.Version.Sys. Standard headers and tags share the map with a
// prefix each, so one map carries everything the S3 layer gives us.
const (
	sysHeader       = "hdr:"
	sysTag          = "tag:"
	sysStorageClass = "storage-class"
)

// newVersion fills the descriptive fields of a version from opts.
func newVersion(opts PutOptions) disk.Version {
	v := disk.Version{
		ContentType: opts.ContentType,
		UserMeta:    maps.Clone(opts.Metadata),
	}
	sys := map[string]string{}
	for k, val := range opts.Headers {
		sys[sysHeader+k] = val
	}
	for k, val := range opts.Tags {
		sys[sysTag+k] = val
	}
	if opts.StorageClass != "" {
		sys[sysStorageClass] = opts.StorageClass
	}
	if len(sys) > 0 {
		v.Sys = sys
	}
	setRetention(&v, opts.Retention)
	setLegalHold(&v, opts.LegalHold)
	return v
}

// setTags replaces the tags in a version's Sys.
func setTags(v *disk.Version, tags map[string]string) {
	for k := range v.Sys {
		if strings.HasPrefix(k, sysTag) {
			delete(v.Sys, k)
		}
	}
	if len(tags) > 0 && v.Sys == nil {
		v.Sys = map[string]string{}
	}
	for k, val := range tags {
		v.Sys[sysTag+k] = val
	}
}

// objectInfo describes version v of bucket/key.
func objectInfo(bucket, key string, v *disk.Version, latest bool) ObjectInfo {
	oi := ObjectInfo{
		Bucket:       bucket,
		Key:          key,
		VersionID:    fromDiskVersionID(v.VersionID),
		IsLatest:     latest,
		DeleteMarker: v.IsDeleteMarker,
		Size:         v.Size,
		ETag:         v.ETag,
		ModTime:      v.ModTime,
		ContentType:  v.ContentType,
		Metadata:     maps.Clone(v.UserMeta),
		Checksums:    maps.Clone(v.Checksums),
		StorageClass: "STANDARD",
	}
	for k, val := range v.Sys {
		switch {
		case strings.HasPrefix(k, sysHeader):
			if oi.Headers == nil {
				oi.Headers = map[string]string{}
			}
			oi.Headers[k[len(sysHeader):]] = val
		case strings.HasPrefix(k, sysTag):
			if oi.Tags == nil {
				oi.Tags = map[string]string{}
			}
			oi.Tags[k[len(sysTag):]] = val
		case k == sysStorageClass:
			oi.StorageClass = val
		}
	}
	lockInfo(&oi, v.Sys)
	if len(v.Parts) > 1 || len(v.Parts) == 1 && strings.Contains(v.ETag, "-") {
		for _, p := range v.Parts {
			oi.Parts = append(oi.Parts, PartInfo{Number: p.Number, Size: p.Size, ETag: p.ETag, ModTime: v.ModTime})
		}
	}
	if v.IsDeleteMarker {
		oi.StorageClass = ""
	}
	return oi
}
