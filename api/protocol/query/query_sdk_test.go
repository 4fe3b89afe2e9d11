package query_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdkiam "github.com/aws/aws-sdk-go-v2/service/iam"
	sdkiamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	sdksts "github.com/aws/aws-sdk-go-v2/service/sts"
	sdkststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/banyancloud/banyan/api/awserr"
	"github.com/banyancloud/banyan/api/protocol"
	"github.com/banyancloud/banyan/api/protocol/internal/clienttest"
	"github.com/banyancloud/banyan/api/protocol/internal/testsvc/iam"
	"github.com/banyancloud/banyan/api/protocol/internal/testsvc/sts"
	"github.com/banyancloud/banyan/api/protocol/query"
)

func sdkConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
	}
}

var created = time.Date(2024, 3, 1, 12, 30, 45, 0, time.UTC)

// iamHandler answers the handful of IAM calls the tests make.
func iamHandler(op *protocol.Operation, in any) (any, error) {
	switch in := in.(type) {
	case *iam.CreateUserRequest:
		return &iam.CreateUserResponse{User: &iam.User{
			Path: "/", UserName: in.UserName, UserId: "AIDAEXAMPLE1", Arn: "arn:aws:iam::123456789012:user/" + in.UserName,
			CreateDate: created, Tags: in.Tags,
		}}, nil
	case *iam.ListUsersRequest:
		return &iam.ListUsersResponse{
			Users: []iam.User{
				{Path: "/", UserName: "alice", UserId: "AIDA1", Arn: "arn:aws:iam::123456789012:user/alice", CreateDate: created},
				{Path: "/ops/", UserName: "bob & <co>", UserId: "AIDA2", Arn: "arn:aws:iam::123456789012:user/ops/bob", CreateDate: created.Add(1500 * time.Millisecond)},
			},
			IsTruncated: aws.Bool(true),
			Marker:      aws.String("next-page"),
		}, nil
	case *iam.GetUserRequest:
		return nil, iam.Errors["NoSuchEntityException"].Error("The user with name " + aws.ToString(in.UserName) + " cannot be found.")
	case *iam.DeleteUserRequest:
		return nil, nil
	case *iam.ListRolesRequest:
		return &iam.ListRolesResponse{}, nil
	case nil:
		if op.Name == "GetAccountSummary" {
			return &iam.GetAccountSummaryResponse{SummaryMap: map[string]int32{"Users": 3, "Groups": 0}}, nil
		}
	}
	return nil, awserr.InternalError
}

func TestSDKIAMCreateUserWithTags(t *testing.T) {
	srv := clienttest.Serve(t, query.New(iam.Service), iamHandler)
	client := sdkiam.NewFromConfig(sdkConfig(srv.URL))
	out, err := client.CreateUser(context.Background(), &sdkiam.CreateUserInput{
		UserName: aws.String("alice"),
		Path:     aws.String("/"),
		Tags: []sdkiamtypes.Tag{
			{Key: aws.String("team"), Value: aws.String("storage")},
			{Key: aws.String("empty"), Value: aws.String("")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("aws-sdk-go-v2 sent: %s", srv.Last(t).Body)
	in := srv.Last(t).Input.(*iam.CreateUserRequest)
	if in.UserName != "alice" || aws.ToString(in.Path) != "/" || in.PermissionsBoundary != nil {
		t.Errorf("decoded %+v", in)
	}
	if len(in.Tags) != 2 || in.Tags[0] != (iam.Tag{Key: "team", Value: "storage"}) || in.Tags[1] != (iam.Tag{Key: "empty", Value: ""}) {
		t.Errorf("decoded tags %+v", in.Tags)
	}
	u := out.User
	if aws.ToString(u.UserName) != "alice" || aws.ToString(u.Arn) != "arn:aws:iam::123456789012:user/alice" ||
		!aws.ToTime(u.CreateDate).Equal(created) || len(u.Tags) != 2 || aws.ToString(u.Tags[0].Value) != "storage" {
		t.Errorf("SDK parsed %+v", u)
	}
}

func TestSDKIAMListUsers(t *testing.T) {
	srv := clienttest.Serve(t, query.New(iam.Service), iamHandler)
	client := sdkiam.NewFromConfig(sdkConfig(srv.URL))
	out, err := client.ListUsers(context.Background(), &sdkiam.ListUsersInput{PathPrefix: aws.String("/"), MaxItems: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	in := srv.Last(t).Input.(*iam.ListUsersRequest)
	if aws.ToInt32(in.MaxItems) != 2 || aws.ToString(in.PathPrefix) != "/" || in.Marker != nil {
		t.Errorf("decoded %+v", in)
	}
	if len(out.Users) != 2 || !out.IsTruncated || aws.ToString(out.Marker) != "next-page" {
		t.Fatalf("SDK parsed %+v", out)
	}
	if got := aws.ToString(out.Users[1].UserName); got != "bob & <co>" {
		t.Errorf("escaped name came back as %q", got)
	}
	if !aws.ToTime(out.Users[0].CreateDate).Equal(created) || !aws.ToTime(out.Users[1].CreateDate).Equal(created.Add(1500*time.Millisecond)) {
		t.Errorf("CreateDate %v %v", out.Users[0].CreateDate, out.Users[1].CreateDate)
	}
}

func TestSDKIAMErrorAndEmptyOutputs(t *testing.T) {
	srv := clienttest.Serve(t, query.New(iam.Service), iamHandler)
	client := sdkiam.NewFromConfig(sdkConfig(srv.URL))
	_, err := client.GetUser(context.Background(), &sdkiam.GetUserInput{UserName: aws.String("ghost")})
	var nse *sdkiamtypes.NoSuchEntityException
	if !errors.As(err, &nse) {
		t.Fatalf("GetUser error %T %v, want NoSuchEntityException", err, err)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchEntity" || ae.ErrorMessage() != "The user with name ghost cannot be found." || ae.ErrorFault() != smithy.FaultClient {
		t.Errorf("API error %v", err)
	}
	if _, err := client.DeleteUser(context.Background(), &sdkiam.DeleteUserInput{UserName: aws.String("alice")}); err != nil {
		t.Errorf("DeleteUser (no output shape): %v", err)
	}
	sum, err := client.GetAccountSummary(context.Background(), &sdkiam.GetAccountSummaryInput{})
	if err != nil || len(sum.SummaryMap) != 2 || sum.SummaryMap["Users"] != 3 {
		t.Errorf("GetAccountSummary map: %v %v", err, sum.SummaryMap)
	}
	roles, err := client.ListRoles(context.Background(), &sdkiam.ListRolesInput{})
	if err != nil || roles.Roles == nil || len(roles.Roles) != 0 {
		t.Errorf("ListRoles with a nil required list: %v %#v", err, roles)
	}
}

var expires = time.Date(2030, 1, 2, 3, 4, 5, 678e6, time.UTC)

func stsHandler(op *protocol.Operation, in any) (any, error) {
	req := in.(*sts.AssumeRoleRequest)
	return &sts.AssumeRoleResponse{
		Credentials: &sts.Credentials{AccessKeyId: "ASIAEXAMPLE", SecretAccessKey: "s3cr3t", SessionToken: "tok+/=", Expiration: expires},
		AssumedRoleUser: &sts.AssumedRoleUser{
			AssumedRoleId: "AROAEXAMPLE:" + req.RoleSessionName,
			Arn:           "arn:aws:sts::123456789012:assumed-role/demo/" + req.RoleSessionName,
		},
		PackedPolicySize: aws.Int32(7),
		SourceIdentity:   req.SourceIdentity,
	}, nil
}

func TestSDKSTSAssumeRole(t *testing.T) {
	srv := clienttest.Serve(t, query.New(sts.Service), stsHandler)
	client := sdksts.NewFromConfig(sdkConfig(srv.URL))
	out, err := client.AssumeRole(context.Background(), &sdksts.AssumeRoleInput{
		RoleArn:         aws.String("arn:aws:iam::123456789012:role/demo"),
		RoleSessionName: aws.String("sess"),
		DurationSeconds: aws.Int32(900),
		PolicyArns: []sdkststypes.PolicyDescriptorType{
			{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")},
			{Arn: aws.String("arn:aws:iam::123456789012:policy/extra")},
		},
		Tags:              []sdkststypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}},
		TransitiveTagKeys: []string{"k"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("aws-sdk-go-v2 sent: %s", srv.Last(t).Body)
	in := srv.Last(t).Input.(*sts.AssumeRoleRequest)
	if in.RoleArn != "arn:aws:iam::123456789012:role/demo" || aws.ToInt32(in.DurationSeconds) != 900 ||
		len(in.PolicyArns) != 2 || aws.ToString(in.PolicyArns[1].Arn) != "arn:aws:iam::123456789012:policy/extra" ||
		len(in.Tags) != 1 || in.Tags[0].Key != "k" || len(in.TransitiveTagKeys) != 1 {
		t.Errorf("decoded %+v", in)
	}
	c := out.Credentials
	if aws.ToString(c.SessionToken) != "tok+/=" || !aws.ToTime(c.Expiration).Equal(expires) ||
		aws.ToString(out.AssumedRoleUser.AssumedRoleId) != "AROAEXAMPLE:sess" {
		t.Errorf("SDK parsed %+v %+v", c, out.AssumedRoleUser)
	}
}

func TestSDKSTSServerError(t *testing.T) {
	srv := clienttest.Serve(t, query.New(sts.Service), func(*protocol.Operation, any) (any, error) {
		return nil, awserr.ServiceUnavailable
	})
	client := sdksts.NewFromConfig(sdkConfig(srv.URL))
	_, err := client.GetCallerIdentity(context.Background(), &sdksts.GetCallerIdentityInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" {
		t.Fatalf("error %v", err)
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() != http.StatusServiceUnavailable {
		t.Errorf("status %d", re.HTTPStatusCode())
	}
}
