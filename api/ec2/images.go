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
	"github.com/banyancloud/banyan/api/service"
	"github.com/banyancloud/banyan/cluster/state"
)

// Images: ImportImage records an import task that the leader's importer (node/images.go)
// works through; the image it registers is a qcow2 object in the system images bucket.
// Launch permissions (public, or per account) decide who else may see and launch it.

var (
	importTaskIDRE     = regexp.MustCompile(`^import-ami-[0-9a-f]{8}([0-9a-f]{9})?$`)
	errIncorrectState  = ec2err("IncorrectState", http.StatusBadRequest)
	errImageNameInUse  = ec2err("InvalidAMIName.Duplicate", http.StatusBadRequest)
	errInvalidAMIName  = ec2err("InvalidAMIName.Malformed", http.StatusBadRequest)
	errAuthFailure     = ec2err("AuthFailure", http.StatusForbidden)
	importFormats      = []string{"raw", "qcow2"}
	imageNameRE        = regexp.MustCompile(`^[A-Za-z0-9()\[\] ./\-'@_]{3,128}$`)
	errInvalidUserID   = ec2err("InvalidUserID.Malformed", http.StatusBadRequest)
	errInvalidAttrName = ec2err("InvalidParameterValue", http.StatusBadRequest)
)

func (f *front) importImage(c *service.Call, in *ImportImageRequest) (*ImportImageResult, error) {
	if err := f.authorize(c, "ImportImage", in.DryRun, f.arn(c, "import-image-task", "*")); err != nil {
		return nil, err
	}
	if len(in.DiskContainers) != 1 {
		return nil, errInvalidParameterValue("ImportImage takes exactly one DiskContainer here (got %d)", len(in.DiskContainers))
	}
	dc := in.DiskContainers[0]
	if deref(dc.SnapshotId) != "" {
		return nil, errInvalidParameterValue("Importing from a snapshot is not supported; give the disk image's S3 location")
	}
	bucket, key := "", ""
	if dc.UserBucket != nil {
		bucket, key = deref(dc.UserBucket.S3Bucket), deref(dc.UserBucket.S3Key)
	} else if u := deref(dc.Url); u != "" {
		pu, err := url.Parse(u)
		if err != nil || pu.Scheme != "s3" || pu.Host == "" {
			return nil, errInvalidParameterValue("The URL '%s' is not an s3://bucket/key URL", u)
		}
		bucket, key = pu.Host, strings.TrimPrefix(pu.Path, "/")
	}
	if bucket == "" || key == "" {
		return nil, errMissingParameter("The request must contain the parameter DiskContainer.1.UserBucket (S3Bucket and S3Key)")
	}
	format := strings.ToLower(deref(dc.Format))
	if format != "" && !slices.Contains(importFormats, format) {
		return nil, errInvalidParameterValue("Unsupported disk image format '%s': raw and qcow2 are supported", deref(dc.Format))
	}
	if a := deref(in.Architecture); a != "" && a != "x86_64" {
		return nil, errInvalidParameterValue("Unsupported architecture '%s': this cloud runs x86_64", a)
	}
	if p := deref(in.Platform); p != "" && !strings.EqualFold(p, "linux") {
		return nil, errInvalidParameterValue("Unsupported platform '%s': this cloud runs Linux", p)
	}
	if deref(in.Encrypted) {
		return nil, errInvalidParameterValue("Encrypted images are not supported")
	}
	tags, err := specTags(in.TagSpecifications, "import-image-task")
	if err != nil {
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
	t := state.ImportTask{ID: f.deps.NewID("import-ami-"), Account: c.Caller.AccountID, Description: deref(in.Description),
		Bucket: bucket, Key: key, Format: format, Status: state.TaskActive, StatusMessage: "pending",
		SizeBytes: size, Created: f.deps.Now(), Tags: tags}
	if _, err := f.cluster.Apply(c.Ctx, &state.PutImportTask{Task: t, Create: true}, nil); err != nil {
		return nil, err
	}
	task := importTaskOut(&t)
	return &ImportImageResult{ImportTaskId: task.ImportTaskId, Architecture: ptr("x86_64"), Description: task.Description,
		Platform: ptr("Linux"), Progress: task.Progress, Status: task.Status, StatusMessage: task.StatusMessage,
		SnapshotDetails: task.SnapshotDetails, Tags: task.Tags, Encrypted: ptr(false)}, nil
}

func importTaskOut(t *state.ImportTask) ImportImageTask {
	out := ImportImageTask{ImportTaskId: ptr(t.ID), Architecture: ptr("x86_64"), Platform: ptr("Linux"),
		Status: ptr(t.Status), Tags: tagList(t.Tags), Encrypted: ptr(false), BootMode: ptr("legacy-bios")}
	if t.Description != "" {
		out.Description = ptr(t.Description)
	}
	if t.StatusMessage != "" {
		out.StatusMessage = ptr(t.StatusMessage)
	}
	if t.Status == state.TaskActive {
		out.Progress = ptr(strconv.Itoa(max(t.Progress, 1)))
	}
	if t.ImageID != "" {
		out.ImageId = ptr(t.ImageID)
	}
	format := strings.ToUpper(t.Format)
	if format == "" {
		format = "RAW"
	}
	d := SnapshotDetail{DeviceName: ptr("/dev/sda1"), Format: ptr(format), DiskImageSize: ptr(float64(t.SizeBytes)),
		Status: ptr(t.Status), UserBucket: &UserBucketDetails{S3Bucket: ptr(t.Bucket), S3Key: ptr(t.Key)}}
	if t.Description != "" {
		d.Description = ptr(t.Description)
	}
	out.SnapshotDetails = []SnapshotDetail{d}
	return out
}

func (f *front) describeImportImageTasks(c *service.Call, in *DescribeImportImageTasksRequest) (*DescribeImportImageTasksResult, error) {
	if err := f.authorize(c, "DescribeImportImageTasks", in.DryRun); err != nil {
		return nil, err
	}
	fs, err := parseFilters(in.Filters, "task-state")
	if err != nil {
		return nil, err
	}
	for _, id := range in.ImportTaskIds {
		if !importTaskIDRE.MatchString(id) {
			return nil, errImportTaskNotFound("The import task ID '%s' is malformed", id)
		}
	}
	list, err := listWanting(f, c, in.ImportTaskIds, func(t *state.ImportTask) string { return t.ID },
		func() ([]*state.ImportTask, error) {
			l, _, err := f.st().ImportTasks(c.Caller.AccountID)
			return l, err
		},
		func(id string) error { return errImportTaskNotFound("The import task ID '%s' does not exist", id) })
	if err != nil {
		return nil, err
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Created.Before(list[j].Created) })
	var kept []ImportImageTask
	for _, t := range list {
		if len(in.ImportTaskIds) > 0 && !slices.Contains(in.ImportTaskIds, t.ID) {
			continue
		}
		if !fs.match(func(string) []string { return []string{t.Status} }, t.Tags) {
			continue
		}
		kept = append(kept, importTaskOut(t))
	}
	items, next, err := page(kept, in.MaxResults, in.NextToken, 1, 500)
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []ImportImageTask{}
	}
	return &DescribeImportImageTasksResult{ImportImageTasks: items, NextToken: next}, nil
}

func (f *front) cancelImportTask(c *service.Call, in *CancelImportTaskRequest) (*CancelImportTaskResult, error) {
	id := deref(in.ImportTaskId)
	if strings.HasPrefix(id, "import-snap-") {
		return f.cancelImportSnapshotTask(c, in) // importsnapshots.go
	}
	if err := f.authorize(c, "CancelImportTask", in.DryRun, f.arn(c, "import-image-task", id)); err != nil {
		return nil, err
	}
	if id == "" {
		return nil, errMissingParameter("The request must contain the parameter ImportTaskId")
	}
	if !importTaskIDRE.MatchString(id) {
		return nil, errImportTaskNotFound("The import task ID '%s' is malformed", id)
	}
	for {
		t, err := f.st().ImportTask(id)
		if err != nil {
			f.catchUp(c)
			t, err = f.st().ImportTask(id)
		}
		if err != nil || t.Account != c.Caller.AccountID {
			return nil, errImportTaskNotFound("The import task ID '%s' does not exist", id)
		}
		if t.Status != state.TaskActive {
			return nil, errIncorrectState("The import task %s is %s and cannot be cancelled", id, t.Status)
		}
		next := *t
		next.Status, next.StatusMessage = state.TaskDeleting, "Cancelling: "+deref(in.CancelReason)
		if deref(in.CancelReason) == "" {
			next.StatusMessage = "Cancelling"
		}
		_, err = f.cluster.Apply(c.Ctx, &state.PutImportTask{Task: next, IfIndex: t.ModifyIndex}, nil)
		if errors.Is(err, state.ErrConflict) {
			continue // the importer moved it on meanwhile: look again
		}
		if err != nil {
			return nil, err
		}
		return &CancelImportTaskResult{ImportTaskId: ptr(id), PreviousState: ptr(state.TaskActive), State: ptr(state.TaskDeleting)}, nil
	}
}

// visibleImages lists the images the caller may see: its own, public ones and those
// shared with its account; deregistered ones are gone.
func (f *front) visibleImages(c *service.Call) ([]*state.Image, error) {
	all, err := f.st().Images()
	if err != nil {
		return nil, err
	}
	var out []*state.Image
	for _, im := range all {
		if im.State != state.ImageDeregistered && canLaunch(im, c.Caller.AccountID) {
			out = append(out, im)
		}
	}
	return out, nil
}

var imageFilters = []string{"image-id", "name", "state", "owner-id", "owner-alias", "is-public", "architecture",
	"image-type", "description", "root-device-type", "root-device-name", "virtualization-type", "hypervisor", "platform-details",
	"block-device-mapping.snapshot-id"}

func (f *front) describeImages(c *service.Call, in *DescribeImagesRequest) (*DescribeImagesResult, error) {
	if err := f.authorize(c, "DescribeImages", in.DryRun); err != nil {
		return nil, err
	}
	if len(in.ImageIds) > 0 && in.MaxResults != nil {
		return nil, errInvalidParameterCombo("The parameter imageIdsSet cannot be used with the parameter maxResults")
	}
	fs, err := parseFilters(in.Filters, imageFilters...)
	if err != nil {
		return nil, err
	}
	for _, id := range in.ImageIds {
		if !strings.HasPrefix(id, "ami-") {
			return nil, errAMIMalformed("Invalid id: \"%s\" (expecting \"ami-...\")", id)
		}
	}
	acct := c.Caller.AccountID
	list, err := listWanting(f, c, in.ImageIds, func(im *state.Image) string { return im.ID },
		func() ([]*state.Image, error) { return f.visibleImages(c) },
		func(id string) error { return errAMINotFound("The image id '[%s]' does not exist", id) })
	if err != nil {
		return nil, err
	}
	ownerOK := func(im *state.Image) bool {
		if len(in.Owners) == 0 {
			return true
		}
		for _, o := range in.Owners {
			if o == "self" && im.Account == acct || o == im.Account {
				return true
			}
		}
		return false
	}
	execOK := func(im *state.Image) bool {
		if len(in.ExecutableUsers) == 0 {
			return true
		}
		for _, u := range in.ExecutableUsers {
			switch {
			case u == "all" && im.Public:
				return true
			case u == "self" && (im.Account == acct || im.Public || slices.Contains(im.LaunchAccounts, acct)):
				return true
			case im.Account == u || slices.Contains(im.LaunchAccounts, u):
				return true
			}
		}
		return false
	}
	var kept []*state.Image
	for _, im := range list {
		if len(in.ImageIds) > 0 && !slices.Contains(in.ImageIds, im.ID) || !ownerOK(im) || !execOK(im) {
			continue
		}
		if fs.match(func(name string) []string { return imageAttr(im, name) }, im.Tags) {
			kept = append(kept, im)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].ID < kept[j].ID })
	items, next, err := page(kept, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	out := &DescribeImagesResult{Images: []Image{}, NextToken: next}
	for _, im := range items {
		out.Images = append(out.Images, f.toImage(im, acct))
	}
	return out, nil
}

func imageAttr(im *state.Image, name string) []string {
	switch name {
	case "image-id":
		return []string{im.ID}
	case "name":
		return []string{im.Name}
	case "state":
		return []string{im.State}
	case "owner-id":
		return []string{im.Account}
	case "is-public":
		return []string{strconv.FormatBool(im.Public)}
	case "architecture":
		return []string{"x86_64"}
	case "image-type":
		return []string{"machine"}
	case "description":
		return []string{im.Description}
	case "root-device-type":
		return []string{im.RootDeviceType()}
	case "root-device-name":
		if im.RootDeviceType() == state.RootDeviceEBS {
			return []string{im.RootDeviceName}
		}
		return []string{state.DefaultRootDeviceName}
	case "block-device-mapping.snapshot-id":
		var out []string
		for _, bd := range im.BlockDevices {
			out = append(out, bd.SnapshotID)
		}
		return out
	case "virtualization-type":
		return []string{"hvm"}
	case "hypervisor":
		return []string{"xen"}
	case "platform-details":
		return []string{"Linux/UNIX"}
	}
	return nil
}

func (f *front) toImage(im *state.Image, caller string) Image {
	out := Image{ImageId: ptr(im.ID), OwnerId: ptr(im.Account), State: ptr(im.State), Name: ptr(im.Name),
		ImageLocation: ptr(im.Account + "/" + im.Name), CreationDate: ptr(im.CreationDate.UTC().Format("2006-01-02T15:04:05.000Z")),
		Public: ptr(im.Public), Architecture: ptr("x86_64"), ImageType: ptr("machine"),
		RootDeviceType: ptr("instance-store"), RootDeviceName: ptr("/dev/sda1"), VirtualizationType: ptr("hvm"),
		Hypervisor: ptr("xen"), PlatformDetails: ptr("Linux/UNIX"), UsageOperation: ptr("RunInstances"),
		BootMode: ptr("legacy-bios"), EnaSupport: ptr(false), BlockDeviceMappings: toImageMappings(im)}
	if im.RootDeviceType() == state.RootDeviceEBS {
		out.RootDeviceType, out.RootDeviceName = ptr(state.RootDeviceEBS), ptr(im.RootDeviceName)
	}
	if im.SourceInstance != "" {
		out.SourceInstanceId = ptr(im.SourceInstance)
	}
	if im.Description != "" {
		out.Description = ptr(im.Description)
	}
	if im.Account == caller {
		out.Tags = tagList(im.Tags)
	}
	if im.StateReason != "" {
		code, _, _ := strings.Cut(im.StateReason, ": ")
		out.StateReason = &StateReason{Code: ptr(code), Message: ptr(im.StateReason)}
	}
	return out
}

// ownImage finds one of the caller's own images (not one merely shared with it).
func (f *front) ownImage(c *service.Call, id string) (*state.Image, error) {
	if !strings.HasPrefix(id, "ami-") {
		return nil, errAMIMalformed("Invalid id: \"%s\" (expecting \"ami-...\")", id)
	}
	im, err := f.st().Image(id)
	if err != nil {
		f.catchUp(c)
		im, err = f.st().Image(id)
	}
	if err != nil || im.State == state.ImageDeregistered || !canLaunch(im, c.Caller.AccountID) {
		return nil, errAMINotFound("The image id '[%s]' does not exist", id)
	}
	if im.Account != c.Caller.AccountID {
		return nil, errAuthFailure("Not authorized for image:%s", id)
	}
	return im, nil
}

// changeImage applies change to one of the caller's images with compare-and-set,
// retrying when another change landed in between.
func (f *front) changeImage(c *service.Call, id string, change func(*state.Image) error) error {
	for {
		im, err := f.ownImage(c, id)
		if err != nil {
			return err
		}
		next := *im
		next.LaunchAccounts = slices.Clone(im.LaunchAccounts)
		if err := change(&next); err != nil {
			return err
		}
		_, err = f.cluster.Apply(c.Ctx, &state.PutImage{Image: next, IfIndex: im.ModifyIndex}, nil)
		if !errors.Is(err, state.ErrConflict) {
			return err
		}
	}
}

func (f *front) deregisterImage(c *service.Call, in *DeregisterImageRequest) (*DeregisterImageResult, error) {
	if err := f.authorize(c, "DeregisterImage", in.DryRun, "arn:aws:ec2:"+f.deps.Region+"::image/"+in.ImageId); err != nil {
		return nil, err
	}
	if in.ImageId == "" {
		return nil, errMissingParameter("The request must contain the parameter ImageId")
	}
	err := f.changeImage(c, in.ImageId, func(im *state.Image) error {
		im.State = state.ImageDeregistered
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &DeregisterImageResult{Return: ptr(true), DeleteSnapshotResults: []DeleteSnapshotReturnCode{}}, nil
}

func (f *front) describeImageAttribute(c *service.Call, in *DescribeImageAttributeRequest) (*ImageAttribute, error) {
	if err := f.authorize(c, "DescribeImageAttribute", in.DryRun, "arn:aws:ec2:"+f.deps.Region+"::image/"+in.ImageId); err != nil {
		return nil, err
	}
	im, err := f.ownImage(c, in.ImageId)
	if err != nil {
		return nil, err
	}
	out := &ImageAttribute{ImageId: ptr(im.ID)}
	switch in.Attribute {
	case "launchPermission":
		out.LaunchPermissions = launchPermissions(im)
	case "description":
		out.Description = &AttributeValue{Value: ptr(im.Description)}
	case "kernel":
		out.KernelId = &AttributeValue{}
	case "ramdisk":
		out.RamdiskId = &AttributeValue{}
	case "productCodes":
		out.ProductCodes = []ProductCode{}
	case "blockDeviceMapping":
		out.BlockDeviceMappings = toImageMappings(im)
	case "bootMode":
		out.BootMode = &AttributeValue{Value: ptr("legacy-bios")}
	case "sriovNetSupport":
		out.SriovNetSupport = &AttributeValue{}
	case "imdsSupport":
		out.ImdsSupport = &AttributeValue{}
	case "deregistrationProtection":
		out.DeregistrationProtection = &AttributeValue{Value: ptr("disabled")}
	default:
		return nil, errInvalidAttrName("Value (%s) for parameter attribute is invalid. Unknown attribute.", in.Attribute)
	}
	return out, nil
}

func launchPermissions(im *state.Image) []LaunchPermission {
	out := []LaunchPermission{}
	if im.Public {
		out = append(out, LaunchPermission{Group: ptr("all")})
	}
	for _, a := range im.LaunchAccounts {
		out = append(out, LaunchPermission{UserId: ptr(a)})
	}
	return out
}

var accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)

func (f *front) modifyImageAttribute(c *service.Call, in *ModifyImageAttributeRequest) (*struct{}, error) {
	if err := f.authorize(c, "ModifyImageAttribute", in.DryRun, "arn:aws:ec2:"+f.deps.Region+"::image/"+in.ImageId); err != nil {
		return nil, err
	}
	// Two spellings: LaunchPermission.Add/Remove, or Attribute=launchPermission with
	// OperationType and UserIds/UserGroups (aws ec2 modify-image-attribute --user-ids).
	var add, remove []LaunchPermission
	if in.LaunchPermission != nil {
		add, remove = in.LaunchPermission.Add, in.LaunchPermission.Remove
	}
	attr := deref(in.Attribute)
	if len(in.UserIds) > 0 || len(in.UserGroups) > 0 {
		if attr != "" && attr != "launchPermission" {
			return nil, errInvalidParameterCombo("UserId and UserGroup go with the attribute launchPermission")
		}
		var lps []LaunchPermission
		for _, u := range in.UserIds {
			lps = append(lps, LaunchPermission{UserId: ptr(u)})
		}
		for _, g := range in.UserGroups {
			lps = append(lps, LaunchPermission{Group: ptr(g)})
		}
		switch deref(in.OperationType) {
		case "add":
			add = append(add, lps...)
		case "remove":
			remove = append(remove, lps...)
		default:
			return nil, errMissingParameter("The request must contain the parameter OperationType (add or remove)")
		}
	}
	var desc *string
	switch {
	case in.Description != nil:
		desc = in.Description.Value
	case attr == "description":
		desc = in.Value
	}
	if desc == nil && len(add) == 0 && len(remove) == 0 {
		if len(in.ProductCodes) > 0 || in.ImdsSupport != nil || len(in.OrganizationArns) > 0 || len(in.OrganizationalUnitArns) > 0 {
			return nil, errInvalidParameterValue("Only the description and launch permissions of an image can be changed here")
		}
		return nil, errMissingParameter("The request must contain a change: LaunchPermission or Description")
	}
	for _, lp := range slices.Concat(add, remove) {
		if u := deref(lp.UserId); u != "" && !accountIDRE.MatchString(u) {
			return nil, errInvalidUserID("User ID '%s' is invalid", u)
		}
		if g := deref(lp.Group); g != "" && g != "all" {
			return nil, errInvalidParameterValue("Value (%s) for parameter group is invalid. Only 'all' is supported.", g)
		}
		if lp.OrganizationArn != nil || lp.OrganizationalUnitArn != nil {
			return nil, errInvalidParameterValue("Sharing with organizations is not supported")
		}
	}
	return nil, f.changeImage(c, in.ImageId, func(im *state.Image) error {
		if desc != nil {
			im.Description = *desc
		}
		for _, lp := range add {
			if deref(lp.Group) == "all" {
				im.Public = true
			} else if u := deref(lp.UserId); u != "" && u != im.Account && !slices.Contains(im.LaunchAccounts, u) {
				im.LaunchAccounts = append(im.LaunchAccounts, u)
			}
		}
		for _, lp := range remove {
			if deref(lp.Group) == "all" {
				im.Public = false
			} else if u := deref(lp.UserId); u != "" {
				im.LaunchAccounts = slices.DeleteFunc(im.LaunchAccounts, func(a string) bool { return a == u })
			}
		}
		return nil
	})
}

func (f *front) resetImageAttribute(c *service.Call, in *ResetImageAttributeRequest) (*struct{}, error) {
	if err := f.authorize(c, "ResetImageAttribute", in.DryRun, "arn:aws:ec2:"+f.deps.Region+"::image/"+in.ImageId); err != nil {
		return nil, err
	}
	if in.Attribute != "launchPermission" {
		return nil, errInvalidParameterValue("Value (%s) for parameter attribute is invalid. Only launchPermission can be reset.", in.Attribute)
	}
	return nil, f.changeImage(c, in.ImageId, func(im *state.Image) error {
		im.Public, im.LaunchAccounts = false, nil
		return nil
	})
}

// copyImage copies an image within the region: a new image record of the caller's over
// the same stored bytes (images are immutable), as AWS's CopyImage to the same region.
func (f *front) copyImage(c *service.Call, in *CopyImageRequest) (*CopyImageResult, error) {
	if err := f.authorize(c, "CopyImage", in.DryRun, f.arn(c, "image", "*"), "arn:aws:ec2:"+f.deps.Region+"::image/"+in.SourceImageId); err != nil {
		return nil, err
	}
	if in.SourceRegion != f.deps.Region {
		return nil, errInvalidParameterValue("Invalid source region '%s': this cloud is the one region %s", in.SourceRegion, f.deps.Region)
	}
	if err := checkImageName(in.Name); err != nil {
		return nil, err
	}
	if deref(in.Encrypted) {
		return nil, errInvalidParameterValue("Encrypted images are not supported")
	}
	src, err := f.launchableImage(c, in.SourceImageId)
	if err != nil {
		return nil, err
	}
	if err := f.imageNameFree(c.Caller.AccountID, in.Name); err != nil {
		return nil, err
	}
	tags, err := specTags(in.TagSpecifications, "image")
	if err != nil {
		return nil, err
	}
	if deref(in.CopyImageTags) && src.Account == c.Caller.AccountID {
		merged := map[string]string{}
		for k, v := range src.Tags {
			merged[k] = v
		}
		for k, v := range tags {
			merged[k] = v
		}
		tags = merged
	}
	im := state.Image{ID: f.deps.NewID("ami-"), Account: c.Caller.AccountID, Name: in.Name, Description: deref(in.Description),
		State: state.ImageAvailable, Architecture: src.Architecture, Platform: src.Platform, ObjectKey: src.ObjectKey,
		SizeBytes: src.SizeBytes, VirtualSize: src.VirtualSize, CreationDate: f.deps.Now(), Tags: tags,
		RootDeviceName: src.RootDeviceName, BlockDevices: slices.Clone(src.BlockDevices)} // an EBS image's copy maps the same snapshots
	if _, err := f.cluster.Apply(c.Ctx, &state.PutImage{Image: im, Create: true}, nil); err != nil {
		return nil, err
	}
	return &CopyImageResult{ImageId: ptr(im.ID)}, nil
}

func checkImageName(name string) error {
	if name == "" {
		return errMissingParameter("The request must contain the parameter Name")
	}
	if !imageNameRE.MatchString(name) {
		return errInvalidAMIName("AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/', '_', '[', ']', ' ', ''' and '@'")
	}
	return nil
}

// imageNameFree: an account's image names are unique among its registered images.
func (f *front) imageNameFree(account, name string) error {
	all, err := f.st().Images()
	if err != nil {
		return err
	}
	for _, im := range all {
		if im.Account == account && im.Name == name && im.State != state.ImageDeregistered {
			return errImageNameInUse("AMI name %s is already in use by AMI %s", name, im.ID)
		}
	}
	return nil
}

// registerImage registers, under a new name, an image already stored in this cloud: its
// ImageLocation is what DescribeImages shows (OWNER/NAME) of an image the caller may
// launch. The new AMI shares the stored bytes (images are immutable). Images backed by
// EBS snapshots come with EBS.
func (f *front) registerImage(c *service.Call, in *RegisterImageRequest) (*RegisterImageResult, error) {
	if err := f.authorize(c, "RegisterImage", in.DryRun, f.arn(c, "image", "*")); err != nil {
		return nil, err
	}
	if err := checkImageName(in.Name); err != nil {
		return nil, err
	}
	if a := deref(in.Architecture); a != "" && a != "x86_64" {
		return nil, errInvalidParameterValue("Unsupported architecture '%s': this cloud runs x86_64", a)
	}
	if v := deref(in.VirtualizationType); v != "" && v != "hvm" {
		return nil, errInvalidParameterValue("Unsupported virtualization type '%s': this cloud runs hvm", v)
	}
	if slices.ContainsFunc(in.BlockDeviceMappings, func(m BlockDeviceMapping) bool { return m.Ebs != nil }) {
		return f.registerEBSImage(c, in) // blockdevices.go
	}
	loc := deref(in.ImageLocation)
	if loc == "" {
		return nil, errMissingParameter("The request must contain the parameter ImageLocation (OWNER/NAME of an imported image)")
	}
	owner, name, ok := strings.Cut(loc, "/")
	if !ok {
		return nil, errInvalidParameterValue("Invalid ImageLocation '%s': expecting OWNER/NAME of an imported image", loc)
	}
	list, err := f.visibleImages(c)
	if err != nil {
		return nil, err
	}
	var src *state.Image
	for _, im := range list {
		if im.Account == owner && im.Name == name && im.State == state.ImageAvailable {
			src = im
		}
	}
	if src == nil {
		return nil, errInvalidParameterValue("No image you may launch is stored at '%s'", loc)
	}
	if err := f.imageNameFree(c.Caller.AccountID, in.Name); err != nil {
		return nil, err
	}
	tags, err := specTags(in.TagSpecifications, "image")
	if err != nil {
		return nil, err
	}
	im := state.Image{ID: f.deps.NewID("ami-"), Account: c.Caller.AccountID, Name: in.Name, Description: deref(in.Description),
		State: state.ImageAvailable, Architecture: src.Architecture, Platform: src.Platform, ObjectKey: src.ObjectKey,
		SizeBytes: src.SizeBytes, VirtualSize: src.VirtualSize, CreationDate: f.deps.Now(), Tags: tags}
	if _, err := f.cluster.Apply(c.Ctx, &state.PutImage{Image: im, Create: true}, nil); err != nil {
		return nil, err
	}
	return &RegisterImageResult{ImageId: ptr(im.ID)}, nil
}
