// Package main is the api/gen command. It generates the Go request/response types of one AWS service from its
// botocore model (service-2.json): a struct per structure shape reachable from an
// operation, with struct tags carrying the wire names the api/protocol codecs use (see
// api/protocol/internal/shape for the conventions), the table of operations, the
// modeled errors and the service's protocol metadata.
//
//	go run ./api/gen -service iam -package iam -out api/iam/types_gen.go
//
// -service finds the newest API version under the botocore data directory (-data, else
// $BOTOCORE_DATA, else the installed botocore's, asked of python3); -model names a
// service-2.json(.gz) directly; -ops keeps only some operations (test fixtures). The
// output is deterministic and gofmt'd.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

func main() {
	service := flag.String("service", "", "botocore service name, e.g. iam, sts, ec2, s3, cloudwatch")
	modelPath := flag.String("model", "", "path to a service-2.json or service-2.json.gz (instead of -service)")
	dataDir := flag.String("data", "", "botocore data directory (default $BOTOCORE_DATA or the installed botocore's)")
	out := flag.String("out", "", "output file (default stdout)")
	pkg := flag.String("package", "", "Go package name (default the service name)")
	pkgDoc := flag.String("doc", "", "package doc comment to emit (for a package with no hand-written doc.go)")
	ops := flag.String("ops", "", "comma-separated operations to keep (default all); for small test fixtures")
	flag.Parse()
	if err := run(*service, *modelPath, *dataDir, *out, *pkg, *pkgDoc, *ops); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(service, modelPath, dataDir, out, pkg, pkgDoc, ops string) error {
	if modelPath == "" {
		if service == "" {
			return fmt.Errorf("give -service NAME or -model PATH")
		}
		if dataDir == "" {
			var err error
			if dataDir, err = botocoreData(); err != nil {
				return err
			}
		}
		var err error
		if modelPath, err = findModel(dataDir, service); err != nil {
			return err
		}
	}
	if pkg == "" {
		pkg = strings.ReplaceAll(service, "-", "")
		if pkg == "" {
			return fmt.Errorf("give -package when using -model")
		}
	}
	m, err := loadModel(modelPath)
	if err != nil {
		return err
	}
	if ops != "" {
		keep := map[string]*operation{}
		for _, name := range strings.Split(ops, ",") {
			op := m.Operations[strings.TrimSpace(name)]
			if op == nil {
				return fmt.Errorf("the model has no operation %q", name)
			}
			keep[op.Name] = op
		}
		m.Operations = keep
	}
	src, err := generate(m, pkg, pkgDoc, describeSource(modelPath))
	if err != nil {
		return err
	}
	if out == "" {
		_, err = os.Stdout.Write(src)
		return err
	}
	return os.WriteFile(out, src, 0o644)
}

// botocoreData locates the installed botocore's data directory.
func botocoreData() (string, error) {
	if d := os.Getenv("BOTOCORE_DATA"); d != "" {
		return d, nil
	}
	cmd := exec.Command("python3", "-c", "import botocore,os;print(os.path.dirname(botocore.__file__))")
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cannot find botocore (set -data or $BOTOCORE_DATA): %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(b)), "data"), nil
}

var versionRE = regexp.MustCompile(`__version__\s*=\s*['"]([^'"]+)['"]`)

// describeSource names the model for the generated header: the botocore release (read
// from its __init__.py when the model sits in an installed botocore) and the model's
// path under data/, so a reader knows what to regenerate from.
func describeSource(modelPath string) string {
	abs, err := filepath.Abs(modelPath)
	if err != nil {
		abs = modelPath
	}
	verDir := filepath.Dir(abs)
	svcDir := filepath.Dir(verDir)
	dataDir := filepath.Dir(svcDir)
	rel := filepath.ToSlash(filepath.Join(filepath.Base(svcDir), filepath.Base(verDir), filepath.Base(abs)))
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(dataDir), "__init__.py")); err == nil {
		if m := versionRE.FindSubmatch(b); m != nil {
			return "botocore " + string(m[1]) + " data/" + rel
		}
	}
	return rel
}
