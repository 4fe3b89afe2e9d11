package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// postE2EScript drives browser-based uploads and ACL grants with the real boto3 (its
// generate_presigned_post, as a web app would hand a browser the form) and python
// requests posting the form, as a browser does. It prints what it saw as one JSON
// object; the test judges it.
const postE2EScript = `
import boto3, json, requests, sys
signed_ep, anon_ep = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=signed_ep)
out = {}
s3.create_bucket(Bucket="post-e2e")
owner = s3.list_buckets()["Owner"]["ID"]

def form(post, name, data, **override):
    fields = dict(post["fields"])
    fields.update(override)
    # The form goes to another box than the one that signed it: any box answers.
    url = post["url"].replace(signed_ep, anon_ep)
    return requests.post(url, data=fields, files={"file": (name, data)})

def err(r):
    import xml.etree.ElementTree as ET
    try:
        root = ET.fromstring(r.content)
        return [r.status_code, root.findtext("Code"), root.findtext("Message")]
    except Exception:
        return [r.status_code, None, r.text]

post = s3.generate_presigned_post("post-e2e", "uploads/${filename}",
    Fields={"acl": "private", "success_action_status": "201", "Content-Type": "text/plain"},
    Conditions=[{"acl": "private"}, {"success_action_status": "201"}, ["starts-with", "$Content-Type", "text/"],
                ["content-length-range", 1, 1048576]],
    ExpiresIn=600)
r = form(post, "hello.txt", b"hello post")
out["ok_status"] = r.status_code
out["ok_body"] = r.text
out["stored"] = s3.get_object(Bucket="post-e2e", Key="uploads/hello.txt")["Body"].read().decode()
out["stored_type"] = s3.head_object(Bucket="post-e2e", Key="uploads/hello.txt")["ContentType"]

out["violated"] = err(form(post, "x.png", b"png", **{"Content-Type": "image/png"}))
small = s3.generate_presigned_post("post-e2e", "small/${filename}",
    Conditions=[["content-length-range", 1, 10]], ExpiresIn=600)
out["too_large"] = err(form(small, "big.bin", b"x" * 11))
out["small_ok"] = form(small, "fits.bin", b"x" * 10).status_code
try:
    s3.head_object(Bucket="post-e2e", Key="small/big.bin")
    out["too_large_stored"] = True
except Exception:
    out["too_large_stored"] = False

# A grant to AllUsers opens an object to anonymous readers; replacing it closes it again.
s3.put_object(Bucket="post-e2e", Key="pub.txt", Body=b"public words")
url = anon_ep + "/post-e2e/pub.txt"
out["anon_before"] = requests.get(url).status_code
s3.put_object_acl(Bucket="post-e2e", Key="pub.txt",
    GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"', GrantFullControl='id="%s"' % owner)
r = requests.get(url)
out["anon_granted"] = [r.status_code, r.text]
acl = s3.get_object_acl(Bucket="post-e2e", Key="pub.txt")
out["acl"] = sorted("%s:%s" % (g["Grantee"].get("URI") or g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"])
s3.put_object_acl(Bucket="post-e2e", Key="pub.txt", AccessControlPolicy={"Owner": {"ID": owner},
    "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": owner}, "Permission": "FULL_CONTROL"}]})
out["anon_revoked"] = requests.get(url).status_code
try:
    s3.put_bucket_acl(Bucket="post-e2e", GrantRead='emailAddress="someone@example.com"')
    out["email"] = "accepted"
except s3.exceptions.ClientError as e:
    out["email"] = e.response["Error"]["Code"]
out["owner"] = owner
print(json.dumps(out))
`

// TestProcessS3PostAndGrants: browser-based uploads (boto3 generate_presigned_post,
// posted with python requests) and ACL grants on a 3-node cluster of real servers.
func TestProcessS3PostAndGrants(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	procs := startClusterDisks(t, 3, 1)
	env := adminEnv(procs[0])
	cmd := exec.Command("python3", "-c", postE2EScript, "http://"+procs[0].ip+":8773", "http://"+procs[2].ip+":8773")
	cmd.Env = append(cleanEnv(), env...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, b)
	}
	var out struct {
		OKStatus       int      `json:"ok_status"`
		OKBody         string   `json:"ok_body"`
		Stored         string   `json:"stored"`
		StoredType     string   `json:"stored_type"`
		Violated       []any    `json:"violated"`
		TooLarge       []any    `json:"too_large"`
		SmallOK        int      `json:"small_ok"`
		TooLargeStored bool     `json:"too_large_stored"`
		AnonBefore     int      `json:"anon_before"`
		AnonGranted    []any    `json:"anon_granted"`
		ACL            []string `json:"acl"`
		AnonRevoked    int      `json:"anon_revoked"`
		Email          string   `json:"email"`
		Owner          string   `json:"owner"`
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil {
		t.Fatalf("script output: %v\n%s", err, b)
	}
	t.Logf("%s", lines[len(lines)-1])
	if out.OKStatus != 201 || !strings.Contains(out.OKBody, "<Key>uploads/hello.txt</Key>") || out.Stored != "hello post" || out.StoredType != "text/plain" {
		t.Errorf("presigned POST: %d %q, stored %q %q", out.OKStatus, out.OKBody, out.Stored, out.StoredType)
	}
	want := []any{403.0, "AccessDenied", `Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", "text/"]`}
	if len(out.Violated) != 3 || out.Violated[0] != want[0] || out.Violated[1] != want[1] || out.Violated[2] != want[2] {
		t.Errorf("violated condition: %v, want %v", out.Violated, want)
	}
	if len(out.TooLarge) != 3 || out.TooLarge[0] != 400.0 || out.TooLarge[1] != "EntityTooLarge" || out.TooLargeStored || out.SmallOK != 204 {
		t.Errorf("content-length-range: %v (stored %v), a fitting file: %d", out.TooLarge, out.TooLargeStored, out.SmallOK)
	}
	if out.AnonBefore != 403 || len(out.AnonGranted) != 2 || out.AnonGranted[0] != 200.0 || out.AnonGranted[1] != "public words" || out.AnonRevoked != 403 {
		t.Errorf("anonymous GET before/granted/revoked: %d %v %d", out.AnonBefore, out.AnonGranted, out.AnonRevoked)
	}
	wantACL := []string{out.Owner + ":FULL_CONTROL", "http://acs.amazonaws.com/groups/global/AllUsers:READ"}
	if len(out.ACL) != 2 || out.ACL[0] != wantACL[0] || out.ACL[1] != wantACL[1] {
		t.Errorf("GetObjectAcl: %v, want %v", out.ACL, wantACL)
	}
	if out.Email != "UnresolvableGrantByEmailAddress" {
		t.Errorf("grant by e-mail: %s", out.Email)
	}
}
