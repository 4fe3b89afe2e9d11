package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// model is the part of a botocore service-2.json the generator reads.
type model struct {
	Metadata   metadata              `json:"metadata"`
	Operations map[string]*operation `json:"operations"`
	Shapes     map[string]*shapeDef  `json:"shapes"`
}

type metadata struct {
	APIVersion       string          `json:"apiVersion"`
	EndpointPrefix   string          `json:"endpointPrefix"`
	Protocol         string          `json:"protocol"`
	Protocols        []string        `json:"protocols"`
	ServiceID        string          `json:"serviceId"`
	XMLNamespace     string          `json:"xmlNamespace"`
	TargetPrefix     string          `json:"targetPrefix"`
	JSONVersion      string          `json:"jsonVersion"`
	AWSQueryCompat   json.RawMessage `json:"awsQueryCompatible"`
	ServiceFullName  string          `json:"serviceFullName"`
	ServiceAbbrev    string          `json:"serviceAbbreviation"`
	SignatureVersion string          `json:"signatureVersion"`
}

type operation struct {
	Name string `json:"name"`
	HTTP struct {
		Method     string `json:"method"`
		RequestURI string `json:"requestUri"`
	} `json:"http"`
	Input  *shapeRef   `json:"input"`
	Output *shapeRef   `json:"output"`
	Errors []*shapeRef `json:"errors"`
}

// shapeRef is a reference to a shape with the serialization traits of the place that
// references it (a structure member, a list member, a map key or value, an operation's
// input or output).
type shapeRef struct {
	Shape           string        `json:"shape"`
	LocationName    string        `json:"locationName"`
	QueryName       string        `json:"queryName"`
	Location        string        `json:"location"`
	Flattened       bool          `json:"flattened"`
	XMLAttribute    bool          `json:"xmlAttribute"`
	XMLNamespace    *xmlNamespace `json:"xmlNamespace"`
	TimestampFormat string        `json:"timestampFormat"`
	ResultWrapper   string        `json:"resultWrapper"`
	Streaming       bool          `json:"streaming"`
	JSONValue       bool          `json:"jsonvalue"`
	Documentation   string        `json:"documentation"`
}

type xmlNamespace struct {
	Prefix string `json:"prefix"`
	URI    string `json:"uri"`
}

// UnmarshalJSON accepts the namespace both as {"uri":..., "prefix":...} and as a bare
// URI string, the two forms the models use.
func (n *xmlNamespace) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		n.URI = s
		return nil
	}
	type plain xmlNamespace
	return json.Unmarshal(b, (*plain)(n))
}

type shapeDef struct {
	Type            string               `json:"type"`
	Members         map[string]*shapeRef `json:"members"`
	memberOrder     []string
	Member          *shapeRef     `json:"member"`
	Key             *shapeRef     `json:"key"`
	Value           *shapeRef     `json:"value"`
	Required        []string      `json:"required"`
	Payload         string        `json:"payload"`
	Flattened       bool          `json:"flattened"`
	LocationName    string        `json:"locationName"`
	XMLNamespace    *xmlNamespace `json:"xmlNamespace"`
	TimestampFormat string        `json:"timestampFormat"`
	Streaming       bool          `json:"streaming"`
	Exception       bool          `json:"exception"`
	Fault           bool          `json:"fault"`
	Document        bool          `json:"document"`
	Union           bool          `json:"union"`
	EventStream     bool          `json:"eventstream"`
	Error           *struct {
		Code           string `json:"code"`
		HTTPStatusCode int    `json:"httpStatusCode"`
		SenderFault    bool   `json:"senderFault"`
	} `json:"error"`
	Documentation string `json:"documentation"`
}

// loadModel reads a service-2.json, gzipped or not. Member order matters (it is the
// XML element order clients see), so structures' members are re-read in document order.
func loadModel(path string) (*model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var m model
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var ordered struct {
		Shapes map[string]struct {
			Members orderedKeys `json:"members"`
		} `json:"shapes"`
	}
	if err := json.Unmarshal(raw, &ordered); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for name, s := range m.Shapes {
		s.memberOrder = ordered.Shapes[name].Members
	}
	if m.Metadata.Protocol == "" {
		return nil, fmt.Errorf("%s: no metadata.protocol; not a botocore service model", path)
	}
	return &m, nil
}

// orderedKeys collects an object's keys in document order.
type orderedKeys []string

func (k *orderedKeys) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if _, err := dec.Token(); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		*k = append(*k, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

// findModel resolves -service NAME to the newest API version's model in a botocore
// data directory.
func findModel(dataDir, service string) (string, error) {
	dirs, err := filepath.Glob(filepath.Join(dataDir, service, "*"))
	if err != nil {
		return "", err
	}
	sort.Strings(dirs)
	for i := len(dirs) - 1; i >= 0; i-- {
		for _, name := range []string{"service-2.json", "service-2.json.gz"} {
			p := filepath.Join(dirs[i], name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("no service-2.json for %q under %s", service, dataDir)
}

func (m *model) protocols() map[string]bool {
	p := map[string]bool{m.Metadata.Protocol: true}
	for _, x := range m.Metadata.Protocols {
		p[x] = true
	}
	return p
}
