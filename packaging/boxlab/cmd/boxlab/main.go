// Package main is the boxlab command: it runs a box lab (package boxlab) for a person at a shell, as root:
//
//	boxlab up [-n N] [-banyan PATH] [-no-libvirt] [-accel tcg] [-f] [-- SERVER-FLAG...]
//	boxlab down [ID...]
//	boxlab list
//	boxlab shell ID BOX|lan [COMMAND [ARG...]]
//
// up builds a lab of N boxes (default 3), prints its boxes and how to reach them, and
// leaves it running in a background process that owns it (with -f, in the foreground
// until ^C). down stops the given labs, or every lab and every leftover of one; shell runs
// a command (default: a shell) inside a box or the LAN namespace. Without -banyan, up
// builds ./cmd/banyan, so it runs from inside the module; packaging/boxlab.sh does that.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"text/tabwriter"

	"golang.org/x/sys/unix"

	"github.com/banyancloud/banyan/packaging/boxlab"
)

const usage = `usage:
  boxlab up [-n N] [-banyan PATH] [-no-libvirt] [-accel tcg] [-f] [-- SERVER-FLAG...]
  boxlab down [ID...]
  boxlab list
  boxlab shell ID BOX|lan [COMMAND [ARG...]]
`

// readyLine ends a detached up's report to the process that started it.
const readyLine = "boxlab: ready\n"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "up":
		err = up(os.Args[2:])
	case "down":
		err = down(os.Args[2:])
	case "list", "ls":
		err = list()
	case "shell":
		err = shell(os.Args[2:])
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "boxlab: %v\n", err)
		os.Exit(1)
	}
}

func up(args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	var cfg boxlab.Config
	fs.IntVar(&cfg.Boxes, "n", 3, "number of boxes")
	fs.StringVar(&cfg.Banyan, "banyan", "", "the banyan binary (default: build ./cmd/banyan)")
	fs.BoolVar(&cfg.NoLibvirt, "no-libvirt", false, "no libvirtd in the boxes; servers run --compute off")
	fs.StringVar(&cfg.Accel, "accel", "tcg", "the servers' --accel")
	foreground := fs.Bool("f", false, "stay in the foreground until ^C (default: leave the lab running in the background)")
	detached := fs.Bool("detached", false, "(internal) the background owner of a lab started by up")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.ServerArgs = fs.Args()
	if !*foreground && !*detached {
		return detach(args)
	}
	cfg.Logf = func(f string, a ...any) { fmt.Printf(f+"\n", a...) }
	if *detached {
		// A starter gone before readyLine (^C) must not kill the lab's owner mid-way.
		signal.Ignore(syscall.SIGPIPE)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	lab, err := boxlab.New(ctx, cfg)
	if err != nil {
		return err
	}
	printLab(lab, *foreground)
	if *detached {
		// The starter stops reading at readyLine: nothing may write to its pipe after.
		fmt.Print(readyLine)
		if null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
			unix.Dup2(int(null.Fd()), 1)
			unix.Dup2(int(null.Fd()), 2)
		}
	}
	<-ctx.Done()
	return lab.Close()
}

// detach starts `up -detached` as its own session and relays its output until it is
// ready (or has failed).
func detach(args []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, append([]string{"up", "-detached"}, args...)...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	w.Close()
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line == readyLine {
			return nil
		}
		os.Stdout.WriteString(line)
		if err == io.EOF {
			cmd.Wait()
			return errors.New("the lab did not come up")
		}
		if err != nil {
			return err
		}
	}
}

func printLab(lab *boxlab.Lab, foreground bool) {
	id := lab.ID()
	fmt.Printf("\nlab %d: subnet 10.%d.0.0/24, folder %s\n", id, id, lab.Dir())
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BOX\tADDRESS\tAWS API\tNETNS\tSERVER LOG")
	for _, b := range lab.Boxes() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Name(), b.IP(), b.Endpoint(), b.Netns(), b.Log())
	}
	tw.Flush()
	creds, conf := lab.AWSConfigFiles()
	b0 := lab.Box(0)
	fmt.Printf(`
The boxes are reachable only from the lab's namespaces. The aws CLI as the admin, from the LAN:
  AWS_SHARED_CREDENTIALS_FILE=%s AWS_CONFIG_FILE=%s \
    ip netns exec %s aws --endpoint-url %s sts get-caller-identity
A shell in box 0:  packaging/boxlab.sh shell %d 0
Cluster status:  packaging/boxlab.sh shell %d 0 %s status --addr %s
`, creds, conf, lab.LANNetns(), b0.Endpoint(), id, id, lab.Banyan(), b0.IP())
	if foreground {
		fmt.Printf("Stop: ^C\n")
	} else {
		fmt.Printf("Stop: packaging/boxlab.sh down %d\n", id)
	}
}

func down(args []string) error {
	var ids []int
	for _, a := range args {
		id, err := strconv.Atoi(a)
		if err != nil {
			return fmt.Errorf("down: want lab ids, got %q", a)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		recs, err := boxlab.Labs()
		if err != nil {
			return err
		}
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
	}
	var errs []error
	for _, id := range ids {
		if err := boxlab.Remove(id); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Printf("lab %d removed\n", id)
		}
	}
	if len(args) == 0 {
		errs = append(errs, boxlab.Sweep(func(f string, a ...any) { fmt.Printf(f+"\n", a...) }))
	}
	return errors.Join(errs...)
}

func list() error {
	recs, err := boxlab.Labs()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tBOXES\tOWNER\tFOLDER")
	for _, r := range recs {
		owner := strconv.Itoa(r.PID)
		if !r.OwnerAlive() {
			owner += " (dead: the next up or down sweeps it)"
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\n", r.ID, r.Boxes, owner, r.Dir)
	}
	return tw.Flush()
}

func shell(args []string) error {
	if len(args) < 2 {
		return errors.New("shell: want ID BOX|lan [COMMAND...]")
	}
	id, err := strconv.Atoi(args[0])
	if err != nil {
		return fmt.Errorf("shell: want a lab id, got %q", args[0])
	}
	command := args[2:]
	if len(command) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		command = []string{sh}
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return err
	}
	var enter []string
	if args[1] == "lan" {
		enter = []string{"nsenter", fmt.Sprintf("--net=/run/netns/bny%d-lan", id)}
	} else {
		i, err := strconv.Atoi(args[1])
		if err != nil {
			return fmt.Errorf("shell: want a box number or lan, got %q", args[1])
		}
		var rec *boxlab.Record
		recs, err := boxlab.Labs()
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.ID == id {
				rec = &r
			}
		}
		if rec == nil || i < 0 || i >= len(rec.Holders) {
			return fmt.Errorf("shell: lab %d has no box %d (boxlab list)", id, i)
		}
		enter = []string{"nsenter", "-t", strconv.Itoa(rec.Holders[i]), "-n", "-m"}
	}
	return syscall.Exec(nsenter, append(append(enter, "--"), command...), os.Environ())
}
