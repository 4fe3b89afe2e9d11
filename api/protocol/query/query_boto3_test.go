package query_test

import (
	"strings"
	"testing"

	"github.com/banyancloud/banyan/api/protocol/internal/clienttest"
	"github.com/banyancloud/banyan/api/protocol/internal/testsvc/iam"
	"github.com/banyancloud/banyan/api/protocol/internal/testsvc/sts"
	"github.com/banyancloud/banyan/api/protocol/query"
)

func TestBoto3IAMAndSTS(t *testing.T) {
	srv := clienttest.Serve(t, query.New(iam.Service), iamHandler)
	stsSrv := clienttest.Serve(t, query.New(sts.Service), stsHandler)
	out := clienttest.Boto3(t, srv.URL, `
c = client('iam')
s = boto3.client('sts', region_name='us-east-1', endpoint_url='`+stsSrv.URL+`',
    aws_access_key_id='AKIDEXAMPLE', aws_secret_access_key='secret')
OUT['assume'] = s.assume_role(RoleArn='arn:aws:iam::123456789012:role/demo', RoleSessionName='sess', DurationSeconds=900,
    PolicyArns=[{'arn': 'arn:aws:iam::aws:policy/ReadOnlyAccess'}], Tags=[{'Key': 'k', 'Value': 'v'}])
OUT['create'] = c.create_user(UserName='carol', Path='/', Tags=[{'Key': 'team', 'Value': 'net'}, {'Key': 'e', 'Value': ''}])
OUT['list'] = c.list_users(MaxItems=2)
OUT['roles'] = c.list_roles()
OUT['error'] = error_of(lambda: c.get_user(UserName='ghost'))
c.delete_user(UserName='carol')
OUT['summary'] = c.get_account_summary()
`)
	t.Logf("botocore sent: %s", stsSrv.Last(t).Body)
	ar := stsSrv.Last(t).Input.(*sts.AssumeRoleRequest)
	if ar.RoleSessionName != "sess" || *ar.DurationSeconds != 900 || len(ar.PolicyArns) != 1 || *ar.PolicyArns[0].Arn != "arn:aws:iam::aws:policy/ReadOnlyAccess" || ar.Tags[0].Value != "v" {
		t.Errorf("AssumeRole decoded %+v", ar)
	}
	creds := out["assume"].(map[string]any)["Credentials"].(map[string]any)
	if creds["SessionToken"] != "tok+/=" || creds["Expiration"] != "2030-01-02T03:04:05.678000Z" {
		t.Errorf("boto3 parsed %v", creds)
	}
	if sum := out["summary"].(map[string]any)["SummaryMap"].(map[string]any); sum["Users"] != float64(3) || sum["Groups"] != float64(0) {
		t.Errorf("boto3 parsed map %v", sum)
	}
	calls := srv.Calls()
	if len(calls) != 6 {
		t.Fatalf("server decoded %d calls", len(calls))
	}
	t.Logf("botocore sent: %s", calls[0].Body)
	cu := calls[0].Input.(*iam.CreateUserRequest)
	if cu.UserName != "carol" || len(cu.Tags) != 2 || cu.Tags[1].Key != "e" || cu.Tags[1].Value != "" {
		t.Errorf("decoded %+v", cu)
	}
	user := out["create"].(map[string]any)["User"].(map[string]any)
	if user["UserName"] != "carol" || user["CreateDate"] != "2024-03-01T12:30:45.000000Z" || len(user["Tags"].([]any)) != 2 {
		t.Errorf("boto3 parsed %v", user)
	}
	list := out["list"].(map[string]any)
	users := list["Users"].([]any)
	if len(users) != 2 || list["IsTruncated"] != true || list["Marker"] != "next-page" ||
		users[1].(map[string]any)["UserName"] != "bob & <co>" ||
		users[1].(map[string]any)["CreateDate"] != "2024-03-01T12:30:46.500000Z" {
		t.Errorf("boto3 parsed %v", list)
	}
	if roles, ok := out["roles"].(map[string]any)["Roles"].([]any); !ok || len(roles) != 0 {
		t.Errorf("a required empty list must reach boto3 as []: %v", out["roles"])
	}
	e := out["error"].(map[string]any)
	if e["Code"] != "NoSuchEntity" || e["Status"] != float64(404) || e["Type"] != "Sender" ||
		!strings.Contains(e["Message"].(string), "ghost") || e["RequestId"] == "" {
		t.Errorf("boto3 error %v", e)
	}
}
