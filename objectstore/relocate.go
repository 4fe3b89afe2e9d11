package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/banyancloud/banyan/objectstore/disk"
	"github.com/banyancloud/banyan/objectstore/placement"
)

// Relocation takes versions off disks that are leaving. An operator marks a
// disk Draining (it is being taken out: it still serves reads but takes no
// new shards) or Removed (it is gone for good: what it held is rebuilt from
// the other shards). The healer, after repairing an object in place, moves
// every version that has a shard on such a disk, or whose scheme no longer
// fits the map, to the set placement gives it now: it decodes the version
// from the disks that hold it, encodes it afresh onto the new set under a
// new data directory, commits it there with the same version ID, ModTime,
// ETag and metadata, and only then deletes it from the disks that left the
// set. Readers find it during the move because lookups still ask Draining
// disks (placement.Topology.Candidates), and on the new set afterwards.
//
// Versions whose set changed only because disks joined are left where they
// are: they are complete and found, and moving them would cost the
// cluster's whole write bandwidth on every expansion for balance alone.
// The scheme of a moved version is kept when it still fits the map, else
// the one new writes get (schemeFor).

// needsRelocation reports whether version v must leave its set: a disk of
// the set is Draining, Removed or no longer in the map, or its scheme no
// longer fits.
func needsRelocation(topo *placement.Topology, v *disk.Version) bool {
	if _, err := topo.CheckScheme(v.Erasure.Scheme()); err != nil {
		return true
	}
	for _, id := range v.Erasure.Disks {
		if retiring(topo, id) {
			return true
		}
	}
	return false
}

// retiring reports whether disk id is on its way out of the map.
func retiring(topo *placement.Topology, id string) bool {
	d := topo.Disk(id)
	return d.ID == "" || d.State == placement.Draining || d.State == placement.Removed
}

// relocateVersion moves version i of st onto the set placement gives it
// now. The caller holds the object's lock.
func (s *Store) relocateVersion(ctx context.Context, topo *placement.Topology, st *objectState, i int, res *HealResult) error {
	v := st.versions[i]
	sc := v.Erasure.Scheme()
	if _, err := topo.CheckScheme(sc); err != nil {
		if sc, err = s.schemeFor(topo, st.bucket, storageClassOf(&v)); err != nil {
			return fmt.Errorf("%w: %w", ErrWriteQuorum, err)
		}
	}
	pl, err := topo.Place(sc, st.bucket, st.key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWriteQuorum, err)
	}
	to := erasureSet{scheme: sc, ids: make([]string, len(pl)), disks: make([]disk.Disk, len(pl))}
	for j, d := range pl {
		to.ids[j], to.disks[j] = d.ID, s.disks.Disk(d.ID)
	}
	for j, d := range to.disks {
		if d == nil {
			continue
		}
		if err := d.MakeVolume(ctx, st.bucket); err != nil && !errors.Is(err, disk.ErrVolumeExists) {
			return fmt.Errorf("disk %s: %w", to.ids[j], err)
		}
	}

	nv := v
	nv.Inline = nil
	nv.Erasure = disk.ErasureInfo{
		Data: sc.Data, Parity: sc.Parity, BlockSize: sc.BlockSize,
		Disks: to.ids, Distribution: identity(len(to.ids)),
	}
	var staged string
	var ok []bool
	var inline [][]byte
	switch {
	case v.IsDeleteMarker:
	case v.HasInline():
		var body bytes.Buffer
		if err := s.decodeRange(ctx, st, i, &body, 0, v.Size); err != nil {
			return err
		}
		if inline, err = encodeInline(ctx, body.Bytes(), sc); err != nil {
			return err
		}
	default:
		nv.DataDir = newUUID()
		staged = newUUID()
		ok = make([]bool, len(to.ids))
		for j := range ok {
			ok[j] = true
		}
		var off int64
		for _, part := range v.Parts {
			got, err := s.recodePart(ctx, st, i, to, staged, part, off)
			if err != nil {
				s.dropStaged(to, staged)
				return err
			}
			for j := range ok {
				ok[j] = ok[j] && got[j]
			}
			off += part.Size
		}
	}

	errs := make([]error, len(to.ids))
	started := time.Now()
	parallel(len(to.ids), func(j int) {
		d := to.disks[j]
		switch {
		case d == nil:
			errs[j] = errNoDisk
			return
		case ok != nil && !ok[j]:
			errs[j] = errShardAbandoned
			return
		}
		dv := nv
		dv.Erasure.Index = j
		if inline != nil {
			dv.Inline = inline[j]
		}
		errs[j] = d.RenameData(ctx, staged, st.bucket, st.key, dv)
	})
	if staged != "" {
		s.dropStaged(to, staged)
	}
	if err := s.quorumErr(errs, sc.WriteQuorum(), ErrWriteQuorum, "moving "+st.bucket+"/"+st.key); err != nil {
		// The old set still holds the version; the new copies that landed
		// are taken back so that the two never disagree on where it lives.
		// On a disk of both sets the new copy replaced the old one: taking
		// it back brings the old one back there (disk.UndoRenameData).
		s.undoChange(st.bucket, st.key, &nv, to.disks, errs, started, "dropping a move that missed its quorum",
			func(ctx context.Context, d disk.Disk) error { return d.UndoRenameData(ctx, st.bucket, st.key, nv) }, nil)
		return err
	}
	res.MetadataWritten += len(to.ids) - countErrs(errs)
	if !v.IsDeleteMarker {
		res.ShardsRebuilt += len(to.ids) - countErrs(errs)
	}
	// Off the disks that left the set. One that cannot be reached now keeps
	// a stale copy the next scan drops: its set no longer agrees on it.
	for _, id := range v.Erasure.Disks {
		if contains(to.ids, id) {
			continue
		}
		if d := s.disks.Disk(id); d != nil {
			if err := d.DeleteVersion(ctx, st.bucket, st.key, v.VersionID); err != nil && !notThere(err) {
				s.log.Warn("objectstore: removing a moved version from its old disk", "bucket", st.bucket, "key", st.key, "disk", id, "err", err)
			}
		}
	}
	s.healStats.relocated.Add(1)
	return nil
}

// recodePart decodes one part of version i from the disks that hold it
// and erasure-codes it onto set to, staged as staged/part.N. It reports
// which disks of to took the whole shard file.
func (s *Store) recodePart(ctx context.Context, st *objectState, i int, to erasureSet, staged string, part disk.Part, off int64) ([]bool, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := s.decodeRange(ctx, st, i, pw, off, part.Size)
		pw.CloseWithError(err)
		done <- err
	}()
	ok, _, err := s.writeShards(ctx, to, st.bucket, fmt.Sprintf("%s/part.%d", staged, part.Number), part.Size, pr)
	pr.CloseWithError(errShardAbandoned)
	if derr := <-done; derr != nil && err == nil {
		err = derr
	}
	return ok, err
}

// storageClassOf is the S3 storage class version v was written with.
func storageClassOf(v *disk.Version) string { return v.Sys[sysStorageClass] }
