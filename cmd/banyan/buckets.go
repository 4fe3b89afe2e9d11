package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/node"
	"github.com/banyancloud/banyan/objectstore"
	"github.com/banyancloud/banyan/objectstore/erasure"
	"github.com/banyancloud/banyan/objectstore/placement"
)

// Scheme overrides. A bucket's lives in its record (state.Bucket.Scheme), set with
// `banyan bucket scheme`; a storage class's is the cluster setting scheme.CLASS, set with
// `banyan setting set`. Both are "k+m"; absent means the automatic scheme. The object
// store reads them from the local replica on every new object (stateSchemes).

// settingSchemePrefix starts the settings that hold a storage class's scheme override:
// scheme.STANDARD and scheme.REDUCED_REDUNDANCY.
const settingSchemePrefix = "scheme."

// schemeAuto is how an operator asks for the automatic scheme again.
const schemeAuto = "auto"

// overrideClasses are the storage classes with a scheme of their own; every other class
// is stored like STANDARD.
var overrideClasses = []placement.StorageClass{placement.Standard, placement.ReducedRedundancy}

// parseOverride reads a scheme override as an operator writes it, "k+m". The block size
// is the object store's, not part of an override.
func parseOverride(s string) (erasure.Scheme, error) {
	if strings.Contains(s, "/") {
		return erasure.Scheme{}, fmt.Errorf("%w: %q: an override is data+parity only, e.g. 4+2 (the block size is not part of it)", erasure.ErrInvalidScheme, s)
	}
	return placement.ParseScheme(s)
}

// stateSchemes gives the object store the overrides in this node's replica.
type stateSchemes struct{ st *state.Store }

var _ objectstore.SchemeOverrides = stateSchemes{}

// BucketScheme implements objectstore.SchemeOverrides.
func (s stateSchemes) BucketScheme(bucket string) (erasure.Scheme, bool, error) {
	b, err := s.st.Bucket(bucket)
	if errors.Is(err, state.ErrNotFound) || err == nil && b.Scheme == "" {
		return erasure.Scheme{}, false, nil
	}
	if err != nil {
		return erasure.Scheme{}, false, err
	}
	sc, err := parseOverride(b.Scheme)
	return sc, err == nil, err
}

// ClassScheme implements objectstore.SchemeOverrides.
func (s stateSchemes) ClassScheme(c placement.StorageClass) (erasure.Scheme, bool, error) {
	set, err := s.st.Setting(settingSchemePrefix + string(c))
	if errors.Is(err, state.ErrNotFound) {
		return erasure.Scheme{}, false, nil
	}
	if err != nil {
		return erasure.Scheme{}, false, err
	}
	sc, err := parseOverride(set.Value)
	if err != nil {
		return erasure.Scheme{}, false, fmt.Errorf("setting %s%s: %w", settingSchemePrefix, c, err)
	}
	return sc, true, nil
}

// overrides collects what bears on new objects of bucket ("" for a bucket without an
// override of its own); unreadable values are left out (the object store refuses the
// writes they concern and says why).
func (s stateSchemes) overrides(bucket string) placement.Overrides {
	var o placement.Overrides
	if bucket != "" {
		o.Bucket, _, _ = s.BucketScheme(bucket)
	}
	o.Standard, _, _ = s.ClassScheme(placement.Standard)
	o.ReducedRedundancy, _, _ = s.ClassScheme(placement.ReducedRedundancy)
	return o
}

// classSchemes says, per storage class, what new objects of bucket get on topo: "k+m", or
// why such writes fail.
func classSchemes(topo *placement.Topology, o placement.Overrides) map[string]classScheme {
	out := map[string]classScheme{}
	for _, c := range overrideClasses {
		cs := classScheme{Set: o.Bucket == (erasure.Scheme{}) && (c == placement.Standard && o.Standard != (erasure.Scheme{}) ||
			c == placement.ReducedRedundancy && o.ReducedRedundancy != (erasure.Scheme{}))}
		if topo == nil {
			cs.Error = "no disk map yet"
		} else if sc, _, err := topo.SchemeWith(o, c); err != nil {
			cs.Error = err.Error()
		} else {
			cs.Scheme = placement.FormatScheme(sc)
		}
		out[string(c)] = cs
	}
	return out
}

// classScheme is what new objects of one storage class get.
type classScheme struct {
	Scheme string `json:"scheme,omitempty"` // "k+m"
	Set    bool   `json:"set"`              // from the class's setting rather than automatic
	Error  string `json:"error,omitempty"`  // why such writes fail (an override that does not fit)
}

// describe renders what new objects get, for the command line.
func describe(cs map[string]classScheme) string {
	var parts []string
	for _, c := range overrideClasses {
		s := cs[string(c)]
		if s.Error != "" {
			parts = append(parts, fmt.Sprintf("%s refused (%s)", c, s.Error))
		} else {
			parts = append(parts, fmt.Sprintf("%s %s", c, s.Scheme))
		}
	}
	return strings.Join(parts, ", ")
}

// bucketSchemePath reads or sets a bucket's scheme override; schemeCheckPath says whether
// a scheme may be used as an override on the current disk map.
const (
	bucketSchemePath = "/v1/objectstore/bucket-scheme"
	schemeCheckPath  = "/v1/objectstore/check-scheme"
)

type bucketSchemeRequest struct {
	Bucket string
	Set    bool
	Scheme string // "k+m" or schemeAuto, when Set
}

type bucketSchemeResponse struct {
	Scheme  string                 // the bucket's override, "k+m"; "" for none
	Classes map[string]classScheme // what new objects of the bucket get, by class
	Error   string
}

type schemeCheckRequest struct{ Scheme string }

type schemeCheckResponse struct {
	Scheme string // normalized, "k+m"
	Error  string
}

// serveSchemes answers `banyan bucket scheme` and the checks of `banyan setting set
// scheme.CLASS` on this node, against its disk map.
func serveSchemes(srv *node.Server, disks *node.Disks) {
	reply := func(w http.ResponseWriter, v any) {
		b, _ := state.Marshal(v)
		w.Header().Set("Content-Type", "application/cbor")
		w.Write(b)
	}
	srv.Cluster.HandleRPC("POST "+bucketSchemePath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req bucketSchemeRequest
		if err := readRequest(r, &req); err != nil {
			reply(w, bucketSchemeResponse{Error: err.Error()})
			return
		}
		var resp bucketSchemeResponse
		if err := setBucketScheme(r.Context(), srv, disks, req); err != nil {
			resp.Error = err.Error()
		}
		st := stateSchemes{srv.Cluster.State()}
		if b, err := st.st.Bucket(req.Bucket); err == nil {
			resp.Scheme = b.Scheme
			resp.Classes = classSchemes(disks.Topology(), st.overrides(req.Bucket))
		}
		reply(w, resp)
	}))
	srv.Cluster.HandleRPC("POST "+schemeCheckPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req schemeCheckRequest
		if err := readRequest(r, &req); err != nil {
			reply(w, schemeCheckResponse{Error: err.Error()})
			return
		}
		sc, err := checkOverride(disks.Topology(), req.Scheme)
		if err != nil {
			reply(w, schemeCheckResponse{Error: err.Error()})
			return
		}
		reply(w, schemeCheckResponse{Scheme: placement.FormatScheme(sc)})
	}))
}

// readRequest decodes a small CBOR request body.
func readRequest(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil {
		err = state.Unmarshal(b, v)
	}
	if err != nil {
		return fmt.Errorf("malformed request: %w", err)
	}
	return nil
}

// checkOverride parses s and checks it may be used as an override on topo.
func checkOverride(topo *placement.Topology, s string) (erasure.Scheme, error) {
	sc, err := parseOverride(s)
	if err != nil {
		return erasure.Scheme{}, err
	}
	if topo == nil {
		return erasure.Scheme{}, errors.New("this node has no disk map yet; retry")
	}
	if _, err := topo.CheckOverride(sc); err != nil {
		return erasure.Scheme{}, err
	}
	return sc, nil
}

// setBucketScheme looks the bucket up (after catching up with the leader) and, for a
// set, changes its record with compare-and-set, re-reading and retrying when another
// node changed it in between.
func setBucketScheme(ctx context.Context, srv *node.Server, disks *node.Disks, req bucketSchemeRequest) error {
	if err := srv.Cluster.CatchUp(ctx); err != nil {
		return err
	}
	value := ""
	if req.Set && req.Scheme != schemeAuto {
		sc, err := checkOverride(disks.Topology(), req.Scheme)
		if err != nil {
			return err
		}
		value = placement.FormatScheme(sc)
	}
	for attempt := 0; ; attempt++ {
		cur, err := srv.Cluster.State().Bucket(req.Bucket)
		if errors.Is(err, state.ErrNotFound) {
			return fmt.Errorf("no bucket named %q", req.Bucket)
		}
		if err != nil || !req.Set || cur.Scheme == value {
			return err
		}
		b := *cur
		b.Scheme = value
		_, err = srv.Cluster.Apply(ctx, &state.PutBucket{Bucket: b, ExpectIndex: cur.ModifyIndex}, nil)
		if errors.Is(err, state.ErrConflict) && attempt < 10 {
			continue
		}
		return err
	}
}

const bucketUsage = `usage:
  banyan bucket scheme BUCKET             print the bucket's scheme override ("auto": none)
  banyan bucket scheme BUCKET K+M         new objects of the bucket get K data and M parity shards
  banyan bucket scheme BUCKET auto        new objects get the storage class's or the automatic scheme again

Objects already written keep the scheme they were written with. A scheme that does
not fit the disk map is refused; one that stops fitting (disks removed) makes writes
to the bucket fail rather than store them with less redundancy.`

// runBucket reads and changes per-bucket settings of the object store.
func runBucket(args []string) error {
	fs := flag.NewFlagSet("bucket", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir, "data dir of the local node")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 || len(pos) > 3 || pos[0] != "scheme" {
		return errors.New(bucketUsage)
	}
	req := bucketSchemeRequest{Bucket: pos[1]}
	if len(pos) == 3 {
		req.Set, req.Scheme = true, pos[2]
		if req.Scheme != schemeAuto {
			if _, err := parseOverride(req.Scheme); err != nil {
				return err
			}
		}
	}
	c, _, err := adminClient(*dataDir)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var resp bucketSchemeResponse
	if err := c.Call(ctx, bucketSchemePath, req, &resp); err != nil {
		return err
	}
	if resp.Error != "" {
		return fmt.Errorf("bucket %s: %s", req.Bucket, resp.Error)
	}
	current := resp.Scheme
	if current == "" {
		current = schemeAuto
	}
	if req.Set {
		fmt.Printf("bucket %s: scheme %s; new objects: %s (objects already written keep theirs)\n", req.Bucket, current, describe(resp.Classes))
		return nil
	}
	fmt.Println(current)
	fmt.Printf("new objects: %s\n", describe(resp.Classes))
	return nil
}

// setClassScheme is `banyan setting set scheme.CLASS VALUE`: the value is checked
// against the disk map by the node, and "auto" removes the setting.
func setClassScheme(ctx context.Context, c adminCaller, key, value string) error {
	class := placement.StorageClass(strings.TrimPrefix(key, settingSchemePrefix))
	known := false
	for _, k := range overrideClasses {
		known = known || k == class
	}
	if !known {
		return fmt.Errorf("no setting %q: storage classes with a scheme of their own are %s%s and %s%s (every other class is stored like STANDARD)",
			key, settingSchemePrefix, placement.Standard, settingSchemePrefix, placement.ReducedRedundancy)
	}
	if value == schemeAuto {
		_, err := c.Submit(ctx, &state.DeleteSetting{Key: key}, nil)
		if errors.Is(err, state.ErrNotFound) {
			err = nil
		}
		return err
	}
	if _, err := parseOverride(value); err != nil {
		return err
	}
	var resp schemeCheckResponse
	if err := c.Call(ctx, schemeCheckPath, schemeCheckRequest{Scheme: value}, &resp); err != nil {
		return err
	}
	if resp.Error != "" {
		return fmt.Errorf("%s: %s", key, resp.Error)
	}
	_, err := c.Submit(ctx, &state.SetSetting{Key: key, Value: resp.Scheme}, nil)
	return err
}

// adminCaller is what the admin verbs need of cluster.Client.
type adminCaller interface {
	Submit(ctx context.Context, cmd state.Command, out any) (uint64, error)
	Call(ctx context.Context, path string, in, out any) error
}
