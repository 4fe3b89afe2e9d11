package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/node"
	"github.com/banyancloud/banyan/objectstore"
)

// disksPath answers the disk map with what the object store knows of each disk.
const disksPath = "/v1/objectstore/disks"

type disksResponse struct {
	Disks []diskRow
	Heal  objectstore.HealStatus
	Error string // the disk map could not be read on the answering node
}

type diskRow struct {
	state.Disk
	Alive bool // its box is alive in gossip (or it is local)
}

// serveDisks answers `banyan disk list` on this node.
func serveDisks(srv *node.Server, store *objectstore.Store) {
	srv.Cluster.HandleRPC("POST "+disksPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		disks, _, err := srv.Cluster.State().DiskMap()
		resp := disksResponse{Heal: store.HealStatus()}
		if err != nil {
			resp.Error = err.Error()
		}
		for _, d := range disks {
			resp.Disks = append(resp.Disks, diskRow{Disk: *d, Alive: d.Node == srv.Cluster.Name() || srv.Cluster.MemberAlive(d.Node)})
		}
		b, _ := state.Marshal(resp)
		w.Header().Set("Content-Type", "application/cbor")
		w.Write(b)
	}))
}

const diskUsage = `usage:
  banyan disk list [--data-dir DIR]
  banyan disk drain  (DISK-ID... | --node NAME) [--data-dir DIR]
  banyan disk remove (DISK-ID... | --node NAME) [--data-dir DIR]
  banyan disk online (DISK-ID... | --node NAME) [--data-dir DIR]

drain:  the disk takes no new shards; the healer moves every object off it,
        reading from it while it is there. Once a scan that ended after the
        drain left nothing to move ('banyan disk list'), take it out
        ('remove').
remove: the disk (or box) is gone for good; what it held is rebuilt on the
        others from the remaining shards. Use it for a dead box that will not
        return; drain first when the disk still works.
online: undo a drain or a removal (the disk takes shards again).`

// runDisk lists disks and changes their state in the disk map.
func runDisk(args []string) error {
	if len(args) == 0 {
		return errors.New(diskUsage)
	}
	verb := args[0]
	fs := flag.NewFlagSet("disk "+verb, flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir, "data dir of the local node")
	nodeName := fs.String("node", "", "every disk of this box")
	ids, err := parseMixed(fs, args[1:])
	if err != nil {
		return err
	}
	target := map[string]string{"drain": state.DiskDraining, "remove": state.DiskRemoved, "online": state.DiskOnline}
	if verb != "list" && target[verb] == "" {
		return errors.New(diskUsage)
	}
	c, _, err := adminClient(*dataDir)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var resp disksResponse
	if err := c.Call(ctx, disksPath, struct{}{}, &resp); err != nil {
		return err
	}
	if resp.Error != "" {
		return fmt.Errorf("reading the disk map: %s", resp.Error)
	}
	if verb == "list" {
		if len(ids) > 0 || *nodeName != "" {
			return errors.New(diskUsage)
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "DISK\tNODE\tSTATE\tBOX\tPATH\tCAPACITY")
		for _, d := range resp.Disks {
			box := "alive"
			if !d.Alive {
				box = "down"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Node, d.State, box, d.Path, humanBytes(d.Capacity))
		}
		w.Flush()
		h := resp.Heal
		fmt.Printf("\nversions moved off retiring disks: %d; left to move after the last scan (ended %s): %d\n",
			h.VersionsMoved, when(h.LastScanEnded), h.VersionsLeftToMove)
		return nil
	}
	if (len(ids) == 0) == (*nodeName == "") {
		return errors.New(diskUsage)
	}
	if *nodeName != "" {
		for _, d := range resp.Disks {
			if d.Node == *nodeName {
				ids = append(ids, d.ID)
			}
		}
		if len(ids) == 0 {
			return fmt.Errorf("no disks of a node named %q in the disk map", *nodeName)
		}
	}
	for _, id := range ids {
		known := false
		for _, d := range resp.Disks {
			known = known || d.ID == id
		}
		if !known {
			return fmt.Errorf("no disk %q in the disk map (see 'banyan disk list')", id)
		}
	}
	for _, id := range ids {
		if _, err := c.Submit(ctx, &state.SetDiskState{ID: id, State: target[verb]}, nil); err != nil {
			return fmt.Errorf("disk %s: %w", id, err)
		}
		fmt.Printf("disk %s: %s\n", id, target[verb])
	}
	if verb != "online" {
		fmt.Println("the healer moves the objects now; follow it with 'banyan disk list' or 'banyan status'")
	}
	return nil
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format(time.DateTime)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
