package ec2

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/identity"
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// ImportSnapshot: a disk image in one of the caller's S3 buckets becomes an EBS snapshot.
// The front end checks the request and that the caller may read the object, and records
// a task with the snapshot ID it will make; the leader's importer
// (node/importsnapshots.go) converts the image when it is not raw, cuts it into the
// snapshot format's extents and registers the snapshot. RoleName is accepted and
// ignored: there is no vmimport role here, the caller's own s3:GetObject permission on
// the object is what counts.

var (
	importSnapshotTaskIDRE = regexp.MustCompile(`^import-snap-[0-9a-f]{8}([0-9a-f]{9})?$`)
	errIdempotentMismatch  = ec2err("IdempotentParameterMismatch", http.StatusBadRequest)
	// importSnapshotFormats are the formats ImportSnapshot takes: AWS's three, and
	// qcow2, which this cloud's ImportImage takes too.
	importSnapshotFormats = []string{"RAW", "VMDK", "VHD", "QCOW2"}
)

// importSnapshotErr gives a state error ImportSnapshot's codes.
func importSnapshotErr(err error) error {
	var se *state.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code {
	case state.CodeIdempotentMismatch:
		return errIdempotentMismatch("%s", se.Message)
	case state.CodeNotFound:
		return errImportTaskNotFound("%s", se.Message)
	case state.CodeIncorrectState:
		return errIncorrectState("%s", se.Message)
	}
	return err
}

func (f *front) importSnapshot(c *service.Call, in *ImportSnapshotRequest) (*ImportSnapshotResult, error) {
	if err := f.authorize(c, "ImportSnapshot", in.DryRun, f.arn(c, "import-snapshot-task", "*"), "arn:aws:ec2:"+f.deps.Region+"::snapshot/*"); err != nil {
		return nil, err
	}
	dc := in.DiskContainer
	if dc == nil {
		return nil, errMissingParameter("The request must contain the parameter DiskContainer")
	}
	bucket, key := "", ""
	if dc.UserBucket != nil {
		if deref(dc.Url) != "" {
			return nil, errInvalidParameterCombo("DiskContainer takes either Url or UserBucket, not both")
		}
		bucket, key = deref(dc.UserBucket.S3Bucket), deref(dc.UserBucket.S3Key)
	} else if u := deref(dc.Url); u != "" {
		pu, err := url.Parse(u)
		if err != nil || pu.Scheme != "s3" || pu.Host == "" {
			return nil, errInvalidParameterValue("The URL '%s' is not an s3://bucket/key URL (disk images are read from this cloud's S3 only)", u)
		}
		bucket, key = pu.Host, strings.TrimPrefix(pu.Path, "/")
	}
	if bucket == "" || key == "" {
		return nil, errMissingParameter("The request must contain the parameter DiskContainer.UserBucket (S3Bucket and S3Key)")
	}
	format := strings.ToUpper(deref(dc.Format))
	if format == "" {
		return nil, errMissingParameter("The request must contain the parameter DiskContainer.Format (VHD, VMDK or RAW)")
	}
	if !slices.Contains(importSnapshotFormats, format) {
		return nil, errInvalidParameterValue("Unsupported disk image format '%s': ImportSnapshot takes VHD, VMDK, RAW (and QCOW2)", deref(dc.Format))
	}
	if deref(in.Encrypted) {
		return nil, errInvalidParameterValue("Encrypted snapshots are not supported: this cloud has no KMS; import without Encrypted")
	}
	if deref(in.KmsKeyId) != "" {
		return nil, errInvalidParameterCombo("KmsKeyId needs Encrypted, and encrypted snapshots are not supported")
	}
	for _, d := range []string{deref(in.Description), deref(dc.Description)} {
		if len(d) > 255 {
			return nil, errInvalidParameterValue("The description may be at most 255 characters long")
		}
	}
	if len(deref(in.ClientToken)) > 64 {
		return nil, errInvalidParameterValue("The client token may be at most 64 characters long")
	}
	for _, s := range in.TagSpecifications {
		if rt := deref(s.ResourceType); rt != "import-snapshot-task" {
			return nil, errInvalidParameterValue("'%s' is not a valid taggable resource type for this operation: use import-snapshot-task", rt)
		}
	}
	tags, err := specTags(in.TagSpecifications, "import-snapshot-task")
	if err != nil {
		return nil, err
	}
	// The caller reads the object through the importer, so it must be allowed to read it.
	if err := c.AuthorizeCheck(identity.Check{Action: "s3:GetObject", Resource: "arn:aws:s3:::" + bucket + "/" + key,
		ResourceAccount: c.Caller.AccountID}); err != nil {
		var ae *awserr.Error
		if errors.As(err, &ae) && ae.Code == awserr.AccessDenied.Code {
			return nil, errUnauthorized("You are not authorized to read s3://%s/%s (s3:GetObject): %s", bucket, key, ae.Message)
		}
		return nil, err
	}
	size, err := f.deps.ImportSource(c.Ctx, c.Caller.AccountID, bucket, key)
	if err != nil {
		var ae *awserr.Error
		if errors.As(err, &ae) {
			return nil, ae
		}
		return nil, errInvalidParameterValue("%v", err)
	}
	if size == 0 {
		return nil, errInvalidParameterValue("The object s3://%s/%s is empty: it is not a disk image", bucket, key)
	}
	t := state.ImportSnapshotTask{ID: f.deps.NewID("import-snap-"), Account: c.Caller.AccountID, ClientToken: deref(in.ClientToken),
		Description: deref(in.Description), DiskDescription: deref(dc.Description), Bucket: bucket, Key: key, Format: format,
		DiskImageSize: size, SnapshotID: f.deps.NewID("snap-"), Created: f.deps.Now(), Tags: tags, StatusMessage: "pending"}
	var id string
	if _, err := f.cluster.Apply(c.Ctx, &state.CreateImportSnapshotTask{Task: t}, &id); err != nil {
		return nil, importSnapshotErr(err)
	}
	rec, err := f.st().ImportSnapshotTask(id)
	if err != nil {
		f.catchUp(c)
		if rec, err = f.st().ImportSnapshotTask(id); err != nil {
			return nil, err
		}
	}
	out := importSnapshotTaskOut(rec)
	return &ImportSnapshotResult{Description: out.Description, ImportTaskId: out.ImportTaskId, SnapshotTaskDetail: out.SnapshotTaskDetail, Tags: out.Tags}, nil
}

// importSnapshotTaskOut is a task as DescribeImportSnapshotTasks shows it: progress while
// active, the snapshot once completed, and why when deleted.
func importSnapshotTaskOut(t *state.ImportSnapshotTask) ImportSnapshotTask {
	d := &SnapshotTaskDetail{Status: ptr(t.Status), Format: ptr(t.Format), DiskImageSize: ptr(float64(t.DiskImageSize)),
		Encrypted: ptr(false), UserBucket: &UserBucketDetails{S3Bucket: ptr(t.Bucket), S3Key: ptr(t.Key)}}
	if t.DiskDescription != "" {
		d.Description = ptr(t.DiskDescription)
	}
	if t.StatusMessage != "" {
		d.StatusMessage = ptr(t.StatusMessage)
	}
	if t.Status == state.TaskActive {
		d.Progress = ptr(strconv.Itoa(max(t.Progress, 1)))
	}
	if t.Status == state.TaskCompleted {
		d.SnapshotId = ptr(t.SnapshotID)
	}
	out := ImportSnapshotTask{ImportTaskId: ptr(t.ID), SnapshotTaskDetail: d, Tags: tagList(t.Tags)}
	if t.Description != "" {
		out.Description = ptr(t.Description)
	}
	return out
}

func (f *front) describeImportSnapshotTasks(c *service.Call, in *DescribeImportSnapshotTasksRequest) (*DescribeImportSnapshotTasksResult, error) {
	if err := f.authorize(c, "DescribeImportSnapshotTasks", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, "task-state")
	if err != nil {
		return nil, err
	}
	for _, id := range in.ImportTaskIds {
		if !importSnapshotTaskIDRE.MatchString(id) {
			return nil, errImportTaskNotFound("The import task ID '%s' is malformed", id)
		}
	}
	list, err := listWanting(f, c, in.ImportTaskIds, func(t *state.ImportSnapshotTask) string { return t.ID },
		func() ([]*state.ImportSnapshotTask, error) {
			l, _, err := f.st().ImportSnapshotTasks(c.Caller.AccountID)
			return l, err
		},
		func(id string) error { return errImportTaskNotFound("The import task ID '%s' does not exist", id) })
	if err != nil {
		return nil, err
	}
	sort.SliceStable(list, func(i, j int) bool {
		if !list[i].Created.Equal(list[j].Created) {
			return list[i].Created.Before(list[j].Created)
		}
		return list[i].ID < list[j].ID
	})
	var kept []ImportSnapshotTask
	for _, t := range list {
		if len(in.ImportTaskIds) > 0 && !slices.Contains(in.ImportTaskIds, t.ID) {
			continue
		}
		if fs.match(func(string) []string { return []string{t.Status} }, t.Tags) {
			kept = append(kept, importSnapshotTaskOut(t))
		}
	}
	items, next, err := page(kept, in.MaxResults, in.NextToken, 1, 500)
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []ImportSnapshotTask{}
	}
	return &DescribeImportSnapshotTasksResult{ImportSnapshotTasks: items, NextToken: next}, nil
}

// cancelImportSnapshotTask is CancelImportTask of an import-snap- task.
func (f *front) cancelImportSnapshotTask(c *service.Call, in *CancelImportTaskRequest) (*CancelImportTaskResult, error) {
	id := deref(in.ImportTaskId)
	if err := f.authorize(c, "CancelImportTask", in.DryRun, f.arn(c, "import-snapshot-task", id)); err != nil {
		return nil, err
	}
	if !importSnapshotTaskIDRE.MatchString(id) {
		return nil, errImportTaskNotFound("The import task ID '%s' is malformed", id)
	}
	if _, err := f.cluster.Apply(c.Ctx, &state.CancelImportSnapshotTask{Account: c.Caller.AccountID, ID: id, Reason: deref(in.CancelReason)}, nil); err != nil {
		return nil, importSnapshotErr(err)
	}
	return &CancelImportTaskResult{ImportTaskId: ptr(id), PreviousState: ptr(state.TaskActive), State: ptr(state.TaskDeleting)}, nil
}
