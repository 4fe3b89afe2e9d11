package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/banyancloud/banyan/cluster"
	"github.com/banyancloud/banyan/cluster/pki"
	"github.com/banyancloud/banyan/cluster/state"
	"github.com/banyancloud/banyan/node"
)

// adminClient connects to the local node with the node's own certificate: the admin
// verbs work for whoever can read the data dir (root on a member box).
func adminClient(dataDir string) (*cluster.Client, *node.DataDir, error) {
	d, err := node.Open(dataDir)
	if errors.Is(err, node.ErrNotInitialized) {
		return nil, nil, fmt.Errorf("%s holds no Banyan node; pass --data-dir", dataDir)
	}
	if err != nil {
		return nil, nil, err
	}
	addr := net.JoinHostPort(d.Identity.AdvertiseAddr, strconv.Itoa(d.Identity.RPCPort))
	return cluster.NewClient(addr, d.TLS), d, nil
}

func runToken(args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: banyan token create [--ttl DURATION] [--data-dir DIR]")
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir, "data dir of the local node")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token admits new boxes (0: forever)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c, d, err := adminClient(*dataDir)
	if err != nil {
		return err
	}
	defer c.Close()
	tok := pki.NewToken(d.CA.Fingerprint())
	jt := state.JoinToken{SecretHash: tok.SecretHash(), Description: "banyan token create"}
	if *ttl > 0 {
		jt.Expires = time.Now().Add(*ttl).UTC()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := c.Submit(ctx, &state.CreateJoinToken{Token: jt}, nil); err != nil {
		return err
	}
	fmt.Println(tok.String())
	return nil
}

// parseMixed parses fs's flags wherever they stand among args (`banyan setting set K V
// --data-dir D` as well as `--data-dir D set K V`) and returns the other arguments.
func parseMixed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) > 0 {
			pos = append(pos, args[0])
			args = args[1:]
		}
	}
	return pos, nil
}

func runSetting(args []string) error {
	fs := flag.NewFlagSet("setting", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir, "data dir of the local node")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return errors.New("usage: banyan setting get KEY | set KEY VALUE | list")
	}
	c, _, err := adminClient(*dataDir)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	switch {
	case pos[0] == "set" && len(pos) == 3 && strings.HasPrefix(pos[1], settingSchemePrefix):
		return setClassScheme(ctx, c, pos[1], pos[2])
	case pos[0] == "set" && len(pos) == 3:
		if err := state.ValidateSetting(pos[1], pos[2]); err != nil {
			return err
		}
		_, err := c.Submit(ctx, &state.SetSetting{Key: pos[1], Value: pos[2]}, nil)
		return err
	case (pos[0] == "get" && len(pos) == 2) || (pos[0] == "list" && len(pos) == 1):
		all, _, err := c.Settings(ctx)
		if err != nil {
			return err
		}
		for _, s := range all {
			if pos[0] == "list" {
				fmt.Printf("%s=%s\n", s.Key, s.Value)
			} else if s.Key == pos[1] {
				fmt.Println(s.Value)
				return nil
			}
		}
		if pos[0] == "get" {
			return fmt.Errorf("no setting %q", pos[1])
		}
		return nil
	}
	return errors.New("usage: banyan setting get KEY | set KEY VALUE | list")
}
