package main

import (
	"flag"
	"path/filepath"
)

// benchEC2 measures the EC2 API's read path with many instance records, then instance
// boot times in a box lab beside plain qemu booting the same image.
func benchEC2(args []string) error {
	fs := flag.NewFlagSet("ec2", flag.ContinueOnError)
	dir := fs.String("dir", "", "folder for data dirs (default: a temporary folder)")
	bin := fs.String("banyan", "", "banyan binary (default: built from this checkout)")
	records := fs.Int("records", 10000, "instance records for the DescribeInstances runs")
	boots := fs.Int("boots", 5, "sequential single launches (and plain qemu boots beside them)")
	instances := fs.Int("instances", 20, "instances launched at once by one RunInstances (0: none)")
	itype := fs.String("instance-type", "t2.nano", "instance type of the boot runs (t2.nano, t2.micro, t2.small)")
	guestDir := fs.String("guest-dir", "/var/tmp/banyan-guest-cache", "where packaging/guest/build-guest-image.sh builds and caches the test guest")
	skipDescribe := fs.Bool("skip-describe", false, "skip the DescribeInstances runs")
	skipBoot := fs.Bool("skip-boot", false, "skip the boot runs (they need root and libvirt: a box lab)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cleanup, err := workDir(dir, bin, "banyan-bench-ec2")
	if err != nil {
		return err
	}
	defer cleanup()
	if !*skipDescribe {
		if err := describeBench(*bin, filepath.Join(*dir, "describe"), *records); err != nil {
			return err
		}
	}
	if *skipBoot {
		return nil
	}
	return bootBench(*bin, filepath.Join(*dir, "boot"), bootConfig{Boots: *boots, Instances: *instances,
		InstanceType: *itype, GuestDir: *guestDir})
}
