package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/banyancloud/banyan/cluster"
	"github.com/banyancloud/banyan/node"
)

func runStatus(args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	addr := fs.String("addr", "", "a member's address, host or host:port of its RPC port (default: this box's node)")
	dataDir := fs.String("data-dir", defaultDataDir, "data dir of the local node, used to find it when --addr is not given")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	target := *addr
	if target == "" {
		target = localRPCAddr(*dataDir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := cluster.FetchStatus(ctx, target)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	leader := st.Leader
	if leader == "" {
		leader = "(none)"
	}
	fmt.Printf("cluster %s, seen from %s\nleader: %s  term: %d  applied: %d  commit: %d\n\n",
		st.ClusterID, st.Node, leader, st.Term, st.AppliedIndex, st.CommitIndex)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tADDRESS\tSTATUS\tRAFT\tAPI")
	for _, m := range st.Members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, m.Addr, m.Status, m.Raft, m.API)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if o, ok := st.Subsystems["objectstore"].(map[string]any); ok {
		fmt.Printf("\nobject store: scheme %v over %v disks on %v boxes\n", o["scheme"], o["disks"], o["boxes"])
		if cs, ok := o["classes"].(map[string]any); ok {
			var parts []string
			for _, c := range overrideClasses {
				m, _ := cs[string(c)].(map[string]any)
				switch {
				case m == nil:
				case m["error"] != nil:
					parts = append(parts, fmt.Sprintf("%s refused (%v)", c, m["error"]))
				case m["set"] == true:
					parts = append(parts, fmt.Sprintf("%s %v (setting %s%s)", c, m["scheme"], settingSchemePrefix, c))
				default:
					parts = append(parts, fmt.Sprintf("%s %v (automatic)", c, m["scheme"]))
				}
			}
			n, _ := o["bucketOverrides"].(float64)
			fmt.Printf("new objects: %s; buckets with a scheme override: %d\n", strings.Join(parts, ", "), int(n))
		}
		if h, ok := o["heal"].(map[string]any); ok {
			fmt.Printf("healing: %v queued, %v awaiting repair after degraded writes (%v repaired), %v objects healed (%v bytes), %v failures, %v scanned, %v versions moved off retiring disks, last scan ended %v\n",
				h["Queued"], h["MRFQueued"], h["MRFRepaired"], h["ObjectsHealed"], h["BytesHealed"], h["Failures"], h["ObjectsScanned"], h["VersionsMoved"], h["LastScanEnded"])
		}
	}
	return nil
}

// localRPCAddr finds the local node from its data dir, falling back to the default port
// on loopback.
func localRPCAddr(dataDir string) string {
	if d, err := node.Open(dataDir); err == nil {
		return net.JoinHostPort(d.Identity.AdvertiseAddr, strconv.Itoa(d.Identity.RPCPort))
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(cluster.DefaultRPCPort))
}
