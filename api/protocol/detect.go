package protocol

import (
	"net/http"
	"strings"
)

// Wire protocol names, spelled as the botocore models' metadata.protocols.
const (
	ProtocolQuery     = "query"
	ProtocolEC2       = "ec2"
	ProtocolRESTXML   = "rest-xml"
	ProtocolJSON      = "json"
	ProtocolRPCv2CBOR = "smithy-rpc-v2-cbor"
)

// Detect tells which family of RPC protocol a request speaks, from what clients put
// on the wire: ProtocolRPCv2CBOR (smithy-protocol header or the
// /service/{S}/operation/{O} path), ProtocolJSON (X-Amz-Target or an
// application/x-amz-json body), else ProtocolQuery for the form-encoded protocols
// (awsQuery and EC2, which the service decides between). One service can be spoken
// several ways: botocore 1.43 sends CloudWatch awsJson 1.0 although the model lists
// smithy-rpc-v2-cbor first, and older SDKs still send it awsQuery.
func Detect(r *http.Request) string {
	if strings.EqualFold(r.Header.Get("smithy-protocol"), "rpc-v2-cbor") {
		return ProtocolRPCv2CBOR
	}
	if r.Header.Get("X-Amz-Target") != "" ||
		strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/x-amz-json") {
		return ProtocolJSON
	}
	if i := strings.LastIndex(r.URL.Path, "/service/"); i >= 0 && strings.Contains(r.URL.Path[i:], "/operation/") {
		return ProtocolRPCv2CBOR
	}
	return ProtocolQuery
}
