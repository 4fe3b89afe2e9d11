// Rules of the codebase, checked as tests: every package says what it owns, and only
// cluster/ talks to Raft and gossip directly.
package banyan_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func goPackages(t *testing.T) map[string][]string {
	t.Helper()
	pkgs := map[string][]string{}
	filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			pkgs[filepath.Dir(path)] = append(pkgs[filepath.Dir(path)], path)
		}
		return nil
	})
	return pkgs
}

func TestEveryPackageHasADocComment(t *testing.T) {
	for dir, files := range goPackages(t) {
		found := false
		for _, f := range files {
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil && strings.HasPrefix(af.Doc.Text(), "Package "+af.Name.Name) ||
				af.Doc != nil && af.Name.Name == "main" && strings.HasPrefix(af.Doc.Text(), "Command ") {
				found = true
			}
		}
		if !found {
			t.Errorf("package %s has no doc comment saying what it owns", dir)
		}
	}
}

func TestOnlyClusterImportsRaftAndGossip(t *testing.T) {
	banned := []string{"github.com/hashicorp/raft", "github.com/hashicorp/memberlist"}
	for dir, files := range goPackages(t) {
		if dir == "cluster" || strings.HasPrefix(dir, "cluster/") {
			continue
		}
		for _, f := range files {
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				for _, b := range banned {
					if strings.HasPrefix(p, b) {
						t.Errorf("%s imports %s: only cluster/ may", f, p)
					}
				}
			}
		}
	}
}
