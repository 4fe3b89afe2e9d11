package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// benchEC2 measures the EC2 API's read path with many instance records.
func benchEC2(args []string) error {
	fs := flag.NewFlagSet("ec2", flag.ContinueOnError)
	dir := fs.String("dir", "", "folder for data dirs (default: a temporary folder)")
	bin := fs.String("banyan", "", "banyan binary (default: built from this checkout)")
	records := fs.Int("records", 10000, "instance records for the DescribeInstances runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "banyan-bench-ec2")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	if *bin == "" {
		*bin = filepath.Join(*dir, "banyan")
		if out, err := exec.Command("go", "build", "-o", *bin, "./cmd/banyan").CombinedOutput(); err != nil {
			return fmt.Errorf("building banyan (run from the repository root or pass --banyan): %v\n%s", err, out)
		}
	}
	return describeBench(*bin, filepath.Join(*dir, "describe"), *records)
}
