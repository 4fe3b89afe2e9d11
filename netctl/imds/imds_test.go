package imds

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/banyancloud/banyan/cluster/state"
)

var testInstance = &state.Instance{
	ID: "i-0123456789abcdef0", Account: "123456789012", ReservationID: "r-0aaa",
	ImageID: "ami-0bbb", InstanceType: "t3.micro", KeyName: "mykey", LaunchIndex: 2,
	LaunchTime: time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC),
	UserData:   []byte("#!/bin/sh\necho hi\n"),
	Tags:       map[string]string{"Name": "web", "env": "prod", "a/b": "skipped"},
	Zone:       "us-east-1b", Node: "box1", PrivateIP: "172.31.16.4", MAC: "02:00:AC:1F:10:04",
}

type fixture struct {
	srv *Server
	now time.Time
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	cfg := Config{
		Region: "us-east-1",
		Instance: func(ip netip.Addr) (*state.Instance, bool) {
			switch ip.String() {
			case "172.31.16.4":
				return testInstance, true
			case "172.31.16.5":
				other := *testInstance
				other.ID, other.PrivateIP, other.UserData, other.KeyName = "i-other", "172.31.16.5", nil, ""
				return &other, true
			}
			return nil, false
		},
		KeyPair: func(account, name string) (*state.KeyPair, bool) {
			if account == "123456789012" && name == "mykey" {
				return &state.KeyPair{Account: account, Name: name, PublicKey: "ssh-ed25519 AAAAC3Nza mykey"}, true
			}
			return nil, false
		},
		Now: func() time.Time { return f.now },
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	return f
}

// do sends one request from addr (host only) and returns status, body, headers.
func (f *fixture) do(method, path, from string, hdr map[string]string) (int, string, http.Header) {
	req := httptest.NewRequest(method, "http://169.254.169.254"+path, nil)
	req.RemoteAddr = from + ":40000"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b), rec.Result().Header
}

const me = "172.31.16.4"

func TestMetadataPaths(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Tags = true })
	mac := "02:00:ac:1f:10:04"
	nic := "/latest/meta-data/network/interfaces/macs/" + mac + "/"
	cases := []struct{ path, want string }{
		{"/latest/meta-data/ami-id", "ami-0bbb"},
		{"/latest/meta-data/instance-id", "i-0123456789abcdef0"},
		{"/latest/meta-data/instance-type", "t3.micro"},
		{"/latest/meta-data/local-ipv4", "172.31.16.4"},
		{"/latest/meta-data/local-hostname", "ip-172-31-16-4.ec2.internal"},
		{"/latest/meta-data/hostname", "ip-172-31-16-4.ec2.internal"},
		{"/latest/meta-data/mac", mac},
		{"/latest/meta-data/placement/availability-zone", "us-east-1b"},
		{"/latest/meta-data/placement/region", "us-east-1"},
		{"/latest/meta-data/placement/", "availability-zone\nregion"},
		{"/latest/meta-data/reservation-id", "r-0aaa"},
		{"/latest/meta-data/ami-launch-index", "2"},
		{"/latest/meta-data/public-keys/", "0=mykey"},
		{"/latest/meta-data/public-keys", "0=mykey"},
		{"/latest/meta-data/public-keys/0/", "openssh-key"},
		{"/latest/meta-data/public-keys/0/openssh-key", "ssh-ed25519 AAAAC3Nza mykey"},
		{"/latest/meta-data/network/", "interfaces/"},
		{"/latest/meta-data/network/interfaces/macs/", mac + "/"},
		{nic, "device-number\nlocal-hostname\nlocal-ipv4s\nmac\nowner-id\nsubnet-ipv4-cidr-block\nvpc-ipv4-cidr-block\nvpc-ipv4-cidr-blocks"},
		{nic + "local-ipv4s", "172.31.16.4"},
		{nic + "subnet-ipv4-cidr-block", "172.31.16.0/20"},
		{nic + "vpc-ipv4-cidr-block", "172.31.0.0/16"},
		{nic + "owner-id", "123456789012"},
		{nic + "device-number", "0"},
		{"/latest/meta-data/tags/", "instance/"},
		{"/latest/meta-data/tags/instance/", "Name\nenv"},
		{"/latest/meta-data/tags/instance/Name", "web"},
		{"/latest/user-data", "#!/bin/sh\necho hi\n"},
		{"/latest/", "dynamic\nmeta-data\nuser-data"},
		{"/latest/dynamic/", "instance-identity/"},
		{"/latest/dynamic/instance-identity/", "document"},
		{"/2009-04-04/meta-data/instance-id", "i-0123456789abcdef0"},
		{"/2021-03-23/meta-data/local-ipv4", "172.31.16.4"},
	}
	for _, c := range cases {
		code, body, _ := f.do("GET", c.path, me, nil)
		if code != 200 || body != c.want {
			t.Errorf("GET %s = %d %q, want 200 %q", c.path, code, body, c.want)
		}
	}

	code, body, _ := f.do("GET", "/latest/meta-data/", me, nil)
	for _, want := range []string{"ami-id", "ami-launch-index", "hostname", "instance-id", "instance-type",
		"local-hostname", "local-ipv4", "mac", "network/", "placement/", "public-keys/", "reservation-id", "tags/"} {
		if !contains(strings.Split(body, "\n"), want) {
			t.Errorf("meta-data listing lacks %q: %d %q", want, code, body)
		}
	}
	code, body, _ = f.do("GET", "/", me, nil)
	if lines := strings.Split(body, "\n"); code != 200 || lines[0] != "1.0" || lines[len(lines)-1] != "latest" {
		t.Errorf("GET / = %d %q", code, body)
	}
	code, _, hdr := f.do("GET", "/latest/user-data", me, nil)
	if code != 200 || hdr.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("user-data content type %q", hdr.Get("Content-Type"))
	}
	if code, body, _ := f.do("HEAD", "/latest/meta-data/instance-id", me, nil); code != 200 || body != "" {
		t.Errorf("HEAD = %d %q", code, body)
	}
}

func TestIdentityDocument(t *testing.T) {
	f := newFixture(t, nil)
	code, body, _ := f.do("GET", "/latest/dynamic/instance-identity/document", me, nil)
	if code != 200 {
		t.Fatalf("document: %d %s", code, body)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("document is not JSON: %v\n%s", err, body)
	}
	want := map[string]any{"accountId": "123456789012", "availabilityZone": "us-east-1b", "imageId": "ami-0bbb",
		"instanceId": "i-0123456789abcdef0", "instanceType": "t3.micro", "privateIp": "172.31.16.4",
		"region": "us-east-1", "pendingTime": "2026-05-01T12:30:00Z", "version": "2017-09-30", "kernelId": nil}
	for k, v := range want {
		if got, ok := doc[k]; !ok || got != v {
			t.Errorf("document %s = %v, want %v", k, got, v)
		}
	}
	if !strings.HasPrefix(body, "{\n  \"accountId\"") {
		t.Errorf("document does not start with accountId: %s", body)
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t, nil) // tags off
	for _, p := range []string{
		"/latest/meta-data/nothing", "/latest/meta-data/tags/instance/", "/latest/meta-data/tags/",
		"/latest/meta-data/public-keys/1/openssh-key", "/1999-01-01/meta-data/", "/latest/dynamic/nothing",
		"/latest/meta-data/instance-id/extra",
	} {
		if code, _, hdr := f.do("GET", p, me, nil); code != 404 || hdr.Get("Content-Type") != "text/html" {
			t.Errorf("GET %s = %d (%s), want 404", p, code, hdr.Get("Content-Type"))
		}
	}
	// An instance without user data or key pair.
	for _, p := range []string{"/latest/user-data", "/latest/meta-data/public-keys/"} {
		if code, _, _ := f.do("GET", p, "172.31.16.5", nil); code != 404 {
			t.Errorf("GET %s from the instance without = %d, want 404", p, code)
		}
	}
	if _, body, _ := f.do("GET", "/latest/", "172.31.16.5", nil); body != "dynamic\nmeta-data" {
		t.Errorf("root without user data lists %q", body)
	}
	if _, body, _ := f.do("GET", "/latest/meta-data/", "172.31.16.5", nil); strings.Contains(body, "public-keys") {
		t.Errorf("listing without key pair names public-keys: %q", body)
	}
	// A caller no instance holds.
	for _, m := range []string{"GET", "PUT"} {
		p := "/latest/meta-data/instance-id"
		h := map[string]string{}
		if m == "PUT" {
			p, h[TokenTTLHeader] = "/latest/api/token", "60"
		}
		if code, _, _ := f.do(m, p, "172.31.16.99", h); code != 404 {
			t.Errorf("%s %s from unknown address = %d, want 404", m, p, code)
		}
	}
}

func TestMethods(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct{ method, path, allow string }{
		{"POST", "/latest/meta-data/instance-id", "GET, HEAD"},
		{"PUT", "/latest/meta-data/instance-id", "GET, HEAD"},
		{"DELETE", "/latest/user-data", "GET, HEAD"},
		{"GET", "/latest/api/token", "PUT"},
		{"POST", "/latest/api/token", "PUT"},
		{"PUT", "/", "GET, HEAD"},
	} {
		code, _, hdr := f.do(c.method, c.path, me, map[string]string{TokenTTLHeader: "60"})
		if code != 405 || hdr.Get("Allow") != c.allow {
			t.Errorf("%s %s = %d Allow %q, want 405 Allow %q", c.method, c.path, code, hdr.Get("Allow"), c.allow)
		}
	}
}

func TestTokens(t *testing.T) {
	f := newFixture(t, nil)
	put := func(from string, hdr map[string]string) (int, string, http.Header) {
		return f.do("PUT", "/latest/api/token", from, hdr)
	}
	for _, ttl := range []string{"", "0", "21601", "-5", "abc"} {
		h := map[string]string{}
		if ttl != "" {
			h[TokenTTLHeader] = ttl
		}
		if code, _, _ := put(me, h); code != 400 {
			t.Errorf("PUT token ttl %q = %d, want 400", ttl, code)
		}
	}
	if code, _, _ := put(me, map[string]string{TokenTTLHeader: "60", "X-Forwarded-For": "10.0.0.1"}); code != 403 {
		t.Errorf("PUT token through a proxy = %d, want 403", code)
	}
	code, tok, hdr := put(me, map[string]string{TokenTTLHeader: "60"})
	if code != 200 || tok == "" || hdr.Get(TokenTTLHeader) != "60" {
		t.Fatalf("PUT token = %d %q ttl %q", code, tok, hdr.Get(TokenTTLHeader))
	}
	if code, _, _ := put(me, map[string]string{TokenTTLHeader: "21600"}); code != 200 {
		t.Errorf("PUT token ttl 21600 = %d", code)
	}
	get := func(from, tok string) int {
		code, _, _ := f.do("GET", "/latest/meta-data/instance-id", from, map[string]string{TokenHeader: tok})
		return code
	}
	if c := get(me, tok); c != 200 {
		t.Errorf("GET with token = %d", c)
	}
	if c := get(me, tok[:len(tok)-2]+"AA"); c != 401 {
		t.Errorf("GET with forged token = %d, want 401", c)
	}
	if c := get(me, "garbage"); c != 401 {
		t.Errorf("GET with garbage token = %d, want 401", c)
	}
	if c := get("172.31.16.5", tok); c != 401 {
		t.Errorf("GET with another instance's token = %d, want 401", c)
	}
	// Another box (another key) does not accept it.
	other := newFixture(t, nil)
	other.now = f.now
	if code, _, _ := other.do("GET", "/latest/meta-data/instance-id", me, map[string]string{TokenHeader: tok}); code != 401 {
		t.Errorf("token from another key = %d, want 401", code)
	}
	f.now = f.now.Add(59 * time.Second)
	if c := get(me, tok); c != 200 {
		t.Errorf("GET with token at 59s = %d", c)
	}
	f.now = f.now.Add(time.Second)
	if c := get(me, tok); c != 401 {
		t.Errorf("GET with expired token = %d, want 401", c)
	}
	// IMDSv1 is allowed by default.
	if c, _, _ := f.do("GET", "/latest/meta-data/instance-id", me, nil); c != 200 {
		t.Errorf("IMDSv1 GET = %d", c)
	}
}

func TestRequireToken(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.RequireToken = true })
	if code, _, _ := f.do("GET", "/latest/meta-data/instance-id", me, nil); code != 401 {
		t.Errorf("IMDSv1 GET with tokens required = %d, want 401", code)
	}
	_, tok, _ := f.do("PUT", "/latest/api/token", me, map[string]string{TokenTTLHeader: "300"})
	if code, body, _ := f.do("GET", "/latest/meta-data/instance-id", me, map[string]string{TokenHeader: tok}); code != 200 || body != testInstance.ID {
		t.Errorf("IMDSv2 GET with tokens required = %d %q", code, body)
	}
}

func TestRegionDomain(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Region = "eu-west-1" })
	if _, body, _ := f.do("GET", "/latest/meta-data/local-hostname", me, nil); body != "ip-172-31-16-4.eu-west-1.compute.internal" {
		t.Errorf("local-hostname in eu-west-1 = %q", body)
	}
}
