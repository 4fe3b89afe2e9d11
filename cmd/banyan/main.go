// Package main is the banyan command, the one binary every box runs: `banyan server` is the daemon, the
// other verbs are its command-line tools. This package only parses flags and wires the
// subsystems together; the logic lives in node, cluster and api.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `banyan: a private AWS region on commodity boxes

Usage:
  banyan server [--data-dir DIR] [--bind IP] [--join HOST --token TOKEN] [--disk PATH]...
  banyan status [--addr HOST[:PORT]] [--data-dir DIR] [--json]
  banyan token create [--ttl DURATION] [--data-dir DIR]
  banyan setting get|set|list [KEY [VALUE]] [--data-dir DIR]
  banyan bucket scheme BUCKET [K+M|auto] [--data-dir DIR]
  banyan credentials [--account ID] [--data-dir DIR]
  banyan account create NAME [--data-dir DIR]
  banyan heal [--data-dir DIR]
  banyan disk list | drain|remove|online (DISK-ID...|--node NAME) [--data-dir DIR]
  banyan version

Run 'banyan COMMAND --help' for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	args := os.Args[2:]
	var err error
	switch os.Args[1] {
	case "server":
		err = runServer(args)
	case "status":
		err = runStatus(args)
	case "disk":
		err = runDisk(args)
	case "token":
		err = runToken(args)
	case "setting", "settings":
		err = runSetting(args)
	case "bucket":
		err = runBucket(args)
	case "credentials":
		err = runCredentials(args)
	case "account":
		err = runAccount(args)
	case "heal":
		err = runHeal(args)
	case "version", "--version":
		fmt.Println("banyan", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "banyan: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "banyan:", err)
		os.Exit(1)
	}
}
