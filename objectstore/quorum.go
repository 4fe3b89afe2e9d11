package objectstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/banyancloud/banyan/objectstore/disk"
)

// How a version is agreed on. Every disk of a set stores the object's
// whole version list (each with its own shard index and inline shard), so
// the disks can disagree only where a write or delete reached some of
// them: a write that lost its quorum and was rolled back, a disk that was
// down, a heal not yet done. A version counts as existing when at least
// its read quorum (its scheme's Data) of disks hold it, lowered by the set
// disks that could not be asked: a write is acknowledged on a write quorum
// (> Data when Parity >= Data), so an acknowledged version is always found
// on Data disks unless disks are down, and a rolled-back or half-done one
// is found on fewer and is not shown. Versions are compared by every field
// a disk cannot change on its own (ID, time, data dir, ETag, marker).

// diskMeta is one disk's answer for one key.
type diskMeta struct {
	id   string
	meta *disk.ObjectMeta // nil: nothing usable there (see err)
	err  error            // nil or a "not there" error: the disk answered
	down bool             // the disk could not be asked
}

// objectState is what the lookup disks agree on for one key.
type objectState struct {
	bucket, key string
	disks       []diskMeta
	// versions are the agreed versions, newest first. Per-disk fields
	// (Erasure.Index, Inline) are those of the first disk holding it.
	versions []disk.Version
	// holders[i] lists indices into disks holding versions[i].
	holders [][]int
	// stale is true when some answering disk disagrees with the
	// agreement (missing or extra versions): the key needs healing.
	stale bool
}

// versionKey identifies a version across disks.
func versionKey(v *disk.Version) string {
	m := "v"
	if v.IsDeleteMarker {
		m = "d"
	}
	return v.VersionID + "\x00" + strconv.FormatInt(v.ModTime.UnixNano(), 10) + "\x00" + v.DataDir + "\x00" + v.ETag + "\x00" + m
}

// notThere reports whether a disk error means "this disk has no such
// object" rather than "this disk could not answer". Only a disk that is
// there can say what it lacks: an error that also says the disk is missing,
// offline or failing (a disk whose folder went away answers ErrDiskNotFound)
// is a disk that could not be asked, whatever else it carries. Counting it
// as "not there" would take a holder's vote away without lowering the
// threshold (see agree), and an object acknowledged on a write quorum that
// includes that disk would read as absent.
func notThere(err error) bool {
	if errors.Is(err, disk.ErrDiskNotFound) || errors.Is(err, disk.ErrDiskOffline) || errors.Is(err, disk.ErrFaultyDisk) ||
		errors.Is(err, disk.ErrDiskAccessDenied) {
		return false
	}
	return errors.Is(err, disk.ErrFileNotFound) || errors.Is(err, disk.ErrVolumeNotFound) ||
		errors.Is(err, disk.ErrVersionNotFound) || errors.Is(err, disk.ErrFileCorrupt)
}

// readObject reads bucket/key's metadata from its lookup disks and agrees
// on its versions. It fails with ErrReadQuorum when too few disks answer
// to tell whether the object exists.
func (s *Store) readObject(ctx context.Context, bucket, key string) (*objectState, error) {
	ids, err := s.lookupDisks(bucket, key)
	if err != nil {
		return nil, err
	}
	st, err := s.readObjectFrom(ctx, bucket, key, ids, s.readQuorumDefault())
	if err != nil {
		return nil, err
	}
	if more := st.unasked(); len(more) > 0 {
		// The map moved since some version was written (a disk is being
		// drained, the scheme changed): its set is not all among the
		// candidates. Ask the disks it records, so it is agreed on with
		// every holder rather than missed.
		return s.readObjectFrom(ctx, bucket, key, append(ids, more...), s.readQuorumDefault())
	}
	return st, nil
}

// unasked lists the disks that versions on the answering disks record in
// their sets but that were not asked.
func (st *objectState) unasked() []string {
	var more []string
	for _, dm := range st.disks {
		if dm.meta == nil {
			continue
		}
		for _, v := range dm.meta.Versions {
			for _, id := range v.Erasure.Disks {
				if !contains(more, id) && !slices.ContainsFunc(st.disks, func(d diskMeta) bool { return d.id == id }) {
					more = append(more, id)
				}
			}
		}
	}
	return more
}

func (s *Store) readObjectFrom(ctx context.Context, bucket, key string, ids []string, need int) (*objectState, error) {
	st := &objectState{bucket: bucket, key: key, disks: make([]diskMeta, len(ids))}
	errs := s.each(ids, func(d disk.Disk) error {
		m, err := d.ReadMetadata(ctx, bucket, key)
		for i, id := range ids {
			if id == d.ID() {
				st.disks[i].meta = m
			}
		}
		return err
	})
	answered := 0
	for i, id := range ids {
		dm := &st.disks[i]
		dm.id, dm.err = id, errs[i]
		if errs[i] != nil {
			dm.meta = nil
			if !notThere(errs[i]) {
				dm.down = true
				continue
			}
		}
		answered++
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if answered < need {
		return nil, fmt.Errorf("%w: %s/%s: %d of %d disks answered, need %d: %w", ErrReadQuorum, bucket, key, answered, len(ids), need, errors.Join(errs...))
	}
	st.resolve()
	return st, nil
}

// resolve agrees on the versions of st.disks.
func (st *objectState) resolve() {
	down := map[string]bool{}
	metas := make([]*disk.ObjectMeta, len(st.disks))
	ids := make([]string, len(st.disks))
	for i, dm := range st.disks {
		metas[i], ids[i] = dm.meta, dm.id
		if dm.down {
			down[dm.id] = true
		}
	}
	st.versions, st.holders, st.stale = agree(metas, ids, down)
}

// agree is the version agreement over the metadata of several disks (nil
// for a disk without it); ids names the disks. down names disks that
// could not be asked. stale reports that some disk that answered
// disagrees: it lacks an agreed version of its set or holds another.
func agree(metas []*disk.ObjectMeta, ids []string, down map[string]bool) (versions []disk.Version, holders [][]int, stale bool) {
	type cand struct {
		v       disk.Version
		holders []int
	}
	var cands []*cand
	byKey := map[string]*cand{}
	for i, m := range metas {
		if m == nil {
			continue
		}
		for _, v := range m.Versions {
			k := versionKey(&v)
			c := byKey[k]
			if c == nil {
				c = &cand{v: v}
				byKey[k] = c
				cands = append(cands, c)
			}
			c.holders = append(c.holders, i)
		}
	}
	for _, c := range cands {
		need := max(c.v.Erasure.Data, 1)
		for _, id := range c.v.Erasure.Disks {
			if down[id] {
				need--
			}
		}
		if len(c.holders) < max(need, 1) {
			stale = true
			continue
		}
		// An overwritten null version can still be on a quorum of disks
		// that missed the overwrite's commit only if they were down; the
		// newer one wins.
		if j := slices.IndexFunc(versions, func(v disk.Version) bool { return v.VersionID == c.v.VersionID }); j >= 0 {
			stale = true
			if !newer(&c.v, &versions[j]) {
				continue
			}
			versions[j], holders[j] = c.v, c.holders
			continue
		}
		versions = append(versions, c.v)
		holders = append(holders, c.holders)
	}
	idx := make([]int, len(versions))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if newer(&versions[a], &versions[b]) {
			return -1
		}
		if newer(&versions[b], &versions[a]) {
			return 1
		}
		return 0
	})
	vs := make([]disk.Version, len(idx))
	hs := make([][]int, len(idx))
	for i, j := range idx {
		vs[i], hs[i] = versions[j], holders[j]
		if stale {
			continue
		}
		for _, id := range vs[i].Erasure.Disks {
			if down[id] {
				continue
			}
			at := slices.Index(ids, id)
			if at < 0 || !slices.Contains(hs[i], at) {
				// Not asked (the map moved) or asked and missing.
				stale = true
				break
			}
		}
	}
	return vs, hs, stale
}

// undecided reports whether version v, agreed on by holders answering disks,
// could as well be a copy left behind. agree lowers a version's threshold by
// the disks of its set that could not be asked, so that a version written to
// a bare write quorum is still found while some of those disks are down; but
// a write or a delete that reached its write quorum replaces or removes the
// version it supersedes on all but at most Total - WriteQuorum disks of the
// set, and a version held by no more than that many disks may be such a
// leftover (a delete through another node that this one's walk or read saw
// only the missed disks of). Until the disks that could not be asked answer,
// or the repair worker (mrf.go) drops the leftover, nobody can tell whether
// the version exists. Its bytes could not be decoded either (Total -
// WriteQuorum is less than Data), so reads and listings answer ErrReadQuorum
// rather than guess. With every disk of the set answering, an agreed version
// has Data holders and is never undecided.
func undecided(v *disk.Version, holders int) bool {
	sc := v.Erasure.Scheme()
	if sc.Data < 1 {
		return false
	}
	return holders <= sc.Total()-sc.WriteQuorum()
}

// newer orders versions as the disks do: latest ModTime first, then the
// larger VersionID.
func newer(a, b *disk.Version) bool {
	if !a.ModTime.Equal(b.ModTime) {
		return a.ModTime.After(b.ModTime)
	}
	return a.VersionID > b.VersionID
}

// find returns the index of the agreed version with the on-disk id.
func (st *objectState) find(id string) int {
	return slices.IndexFunc(st.versions, func(v disk.Version) bool { return v.VersionID == id })
}

// holderMeta returns version i as the j-th holder disk stores it (its own
// shard index and inline shard).
func (st *objectState) holderVersion(i int, diskIdx int) (disk.Version, bool) {
	m := st.disks[diskIdx].meta
	if m == nil {
		return disk.Version{}, false
	}
	k := versionKey(&st.versions[i])
	for _, v := range m.Versions {
		if versionKey(&v) == k {
			return v, true
		}
	}
	return disk.Version{}, false
}

// quorumErr reduces per-disk errors: nil when at least need succeeded,
// else base wrapping what went wrong on each disk.
func (s *Store) quorumErr(errs []error, need int, base error, what string) error {
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		}
	}
	if ok >= need {
		return nil
	}
	return fmt.Errorf("%w: %s: %d of %d disks succeeded, need %d: %w", base, what, ok, len(errs), need, errors.Join(errs...))
}

// toDiskVersionID maps S3's "null" to the disks' "".
func toDiskVersionID(id string) string {
	if id == NullVersionID {
		return ""
	}
	return id
}

// fromDiskVersionID maps the disks' "" to S3's "null".
func fromDiskVersionID(id string) string {
	if id == "" {
		return NullVersionID
	}
	return id
}
