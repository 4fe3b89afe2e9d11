package protocol_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := protocol.NewRequestID()
		if !uuidRE.MatchString(id) {
			t.Fatalf("%q is not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("duplicate %q", id)
		}
		seen[id] = true
	}
}

func BenchmarkNewRequestID(b *testing.B) {
	for i := 0; i < b.N; i++ {
		protocol.NewRequestID()
	}
}

func TestTimestamps(t *testing.T) {
	want := time.Date(2024, 3, 1, 12, 30, 45, 0, time.UTC)
	for _, s := range []string{
		"2024-03-01T12:30:45Z", "2024-03-01T12:30:45.000Z", "2024-03-01T14:30:45+02:00", "2024-03-01T12:30:45",
		"1709296245", "1709296245.0", "Fri, 01 Mar 2024 12:30:45 GMT",
	} {
		got, ok := protocol.ParseTimestamp(s)
		if !ok || !got.Equal(want) {
			t.Errorf("ParseTimestamp(%q) = %v, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "soon", "2024-13-01T00:00:00Z", "1e400", "NaN"} {
		if _, ok := protocol.ParseTimestamp(s); ok {
			t.Errorf("ParseTimestamp(%q) accepted", s)
		}
	}
	ms := want.Add(123456789 * time.Nanosecond)
	for got, w := range map[string]string{
		protocol.FormatISO8601(want, false): "2024-03-01T12:30:45Z",
		protocol.FormatISO8601(want, true):  "2024-03-01T12:30:45.000Z",
		protocol.FormatISO8601(ms, false):   "2024-03-01T12:30:45.123Z",
		protocol.FormatRFC822(want):         "Fri, 01 Mar 2024 12:30:45 GMT",
		protocol.FormatEpoch(want):          "1709296245",
		protocol.FormatEpoch(ms):            "1709296245.123",
	} {
		if got != w {
			t.Errorf("got %q, want %q", got, w)
		}
	}
}

func TestReadBody(t *testing.T) {
	req := func(body []byte, enc string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		if enc != "" {
			r.Header.Set("Content-Encoding", enc)
		}
		return r
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(bytes.Repeat([]byte("a"), 1000))
	zw.Close()

	if b, err := protocol.ReadBody(req([]byte("abc"), ""), 3); err != nil || string(b) != "abc" {
		t.Errorf("at the limit: %q %v", b, err)
	}
	for name, r := range map[string]*http.Request{
		"too long":  req([]byte("abcd"), ""),
		"gzip bomb": req(zipped.Bytes(), "gzip"),
	} {
		_, err := protocol.ReadBody(r, 100)
		if name == "too long" {
			_, err = protocol.ReadBody(r, 3)
		}
		if !errors.Is(err, awserr.RequestEntityTooLarge) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if b, err := protocol.ReadBody(req(zipped.Bytes(), "gzip"), 1000); err != nil || len(b) != 1000 {
		t.Errorf("gzip: %d %v", len(b), err)
	}
	for _, enc := range []string{"br", "gzip"} {
		if _, err := protocol.ReadBody(req([]byte("plain"), enc), 100); err == nil {
			t.Errorf("Content-Encoding %s of plain bytes accepted", enc)
		}
	}
}

func TestModeledError(t *testing.T) {
	e := protocol.ModeledError{Code: "NoSuchEntity", HTTPStatus: 404, SenderFault: true}.Error("gone")
	if e.Code != "NoSuchEntity" || e.HTTPStatus != 404 || !e.SenderFault() || e.Message != "gone" {
		t.Errorf("%+v", e)
	}
	if e := (protocol.ModeledError{Code: "ServiceFailure"}).Error(""); e.HTTPStatus != 500 || e.SenderFault() {
		t.Errorf("%+v", e)
	}
}

// TestPackageDocs fails a package under api/protocol or api/gen without a doc comment.
func TestPackageDocs(t *testing.T) {
	for _, root := range []string{".", "../gen"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() || strings.Contains(path, "testdata") {
				return err
			}
			files, err := filepath.Glob(filepath.Join(path, "*.go"))
			if err != nil {
				return err
			}
			documented, sources := false, 0
			for _, file := range files {
				if strings.HasSuffix(file, "_test.go") {
					continue
				}
				sources++
				f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.PackageClauseOnly|parser.ParseComments)
				if err != nil {
					return err
				}
				documented = documented || f.Doc != nil
			}
			if sources > 0 && !documented {
				t.Errorf("package in %s has no doc comment", path)
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}

func TestDetect(t *testing.T) {
	req := func(path string, headers ...string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, path, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		return r
	}
	for want, r := range map[string]*http.Request{
		protocol.ProtocolRPCv2CBOR: req("/service/GraniteServiceVersion20100801/operation/ListMetrics", "smithy-protocol", "rpc-v2-cbor", "Content-Type", "application/cbor"),
		protocol.ProtocolJSON:      req("/", "X-Amz-Target", "GraniteServiceVersion20100801.ListMetrics", "Content-Type", "application/x-amz-json-1.0"),
		protocol.ProtocolQuery:     req("/", "Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
	} {
		if got := protocol.Detect(r); got != want {
			t.Errorf("Detect(%s %v) = %s, want %s", r.URL, r.Header, got, want)
		}
	}
	if got := protocol.Detect(req("/prefix/service/S/operation/O")); got != protocol.ProtocolRPCv2CBOR {
		t.Errorf("CBOR by path alone: %s", got)
	}
}
