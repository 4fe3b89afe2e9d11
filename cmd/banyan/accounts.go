package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/banyancloud/banyan/api/iam"
	"github.com/banyancloud/banyan/cluster/pki"
	"github.com/banyancloud/banyan/cluster/state"
)

// runCredentials prints the admin account's root credentials in the aws-cli's
// credentials file format. It needs the data dir (root on a member box).
func runCredentials(args []string) error {
	fs := flag.NewFlagSet("credentials", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir, "data dir of the local node")
	account := fs.String("account", "", "account ID (default: the admin account)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, d, err := adminClient(*dataDir)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id := *account
	if id == "" {
		settings, _, err := c.Settings(ctx)
		if err != nil {
			return err
		}
		for _, s := range settings {
			if s.Key == settingAdminAccount {
				id = s.Value
			}
		}
		if id == "" {
			return errors.New("the cluster has no admin account yet; is the founding node's first start finished?")
		}
	}
	sealer, err := pki.NewSealer(d.Secrets.ClusterKey)
	if err != nil {
		return err
	}
	accts, err := c.IAMEntities(ctx, state.KindAccount, "")
	if err != nil {
		return err
	}
	for _, a := range accts {
		if a.Name != id {
			continue
		}
		keys, err := c.IAMEntities(ctx, state.KindAccessKey, id)
		if err != nil {
			return err
		}
		creds, err := iam.RootCredentialsOf(a, keys, sealer)
		if err != nil {
			return err
		}
		fmt.Printf("# account %s (%s)\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
			creds.AccountID, creds.AccountName, creds.AccessKeyID, creds.SecretAccessKey)
		return nil
	}
	return fmt.Errorf("no account %s", id)
}

// runAccount creates tenant accounts.
func runAccount(args []string) error {
	if len(args) < 1 || args[0] != "create" {
		return errors.New("usage: banyan account create NAME [--data-dir DIR]")
	}
	fs := flag.NewFlagSet("account create", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir, "data dir of the local node")
	var name string
	rest := args[1:]
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		rest = fs.Args()
		if len(rest) > 0 {
			if name != "" {
				return errors.New("usage: banyan account create NAME [--data-dir DIR]")
			}
			name, rest = rest[0], rest[1:]
		}
	}
	if name == "" {
		return errors.New("usage: banyan account create NAME [--data-dir DIR]")
	}
	c, d, err := adminClient(*dataDir)
	if err != nil {
		return err
	}
	defer c.Close()
	sealer, err := pki.NewSealer(d.Secrets.ClusterKey)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	existing, err := c.IAMEntities(ctx, state.KindAccount, "")
	if err != nil {
		return err
	}
	creds, err := iam.CreateAccount(ctx, c, existing, sealer, name, false)
	if err != nil {
		return err
	}
	fmt.Printf("# account %s (%s): its root user's credentials\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		creds.AccountID, creds.AccountName, creds.AccessKeyID, creds.SecretAccessKey)
	return nil
}
