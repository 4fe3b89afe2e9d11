package iampolicy

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// jsonNode is one decoded JSON value. Objects keep their members in document order and
// decoding refuses duplicate keys: encoding/json would keep the last of two "Effect" keys
// silently, and a document that two parsers read differently is a way around a policy.
type jsonNode struct {
	kind    jsonKind
	str     string // a string's value, a number's text, or "true"/"false"
	elems   []*jsonNode
	members []jsonMember
}

type jsonKind uint8

const (
	jsonString jsonKind = iota
	jsonNumber
	jsonBool
	jsonNull
	jsonArray
	jsonObject
)

type jsonMember struct {
	key string
	val *jsonNode
}

// maxJSONDepth bounds nesting; a policy needs four levels, and the bound keeps a hostile
// document from driving the recursion deep.
const maxJSONDepth = 32

var errJSON = errors.New("iampolicy: invalid JSON")

func parseJSON(text string) (*jsonNode, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	n, err := readJSON(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errJSON // trailing data after the document
	}
	return n, nil
}

func readJSON(dec *json.Decoder, depth int) (*jsonNode, error) {
	if depth > maxJSONDepth {
		return nil, errJSON
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, errJSON
	}
	switch t := tok.(type) {
	case string:
		return &jsonNode{kind: jsonString, str: t}, nil
	case json.Number:
		return &jsonNode{kind: jsonNumber, str: t.String()}, nil
	case bool:
		if t {
			return &jsonNode{kind: jsonBool, str: "true"}, nil
		}
		return &jsonNode{kind: jsonBool, str: "false"}, nil
	case nil:
		return &jsonNode{kind: jsonNull}, nil
	case json.Delim:
		switch t {
		case '{':
			return readObject(dec, depth)
		case '[':
			return readArray(dec, depth)
		}
	}
	return nil, errJSON
}

func readObject(dec *json.Decoder, depth int) (*jsonNode, error) {
	n := &jsonNode{kind: jsonObject}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errJSON
		}
		key, ok := tok.(string)
		if !ok || n.member(key) != nil {
			return nil, errJSON
		}
		val, err := readJSON(dec, depth+1)
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, jsonMember{key: key, val: val})
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errJSON
	}
	return n, nil
}

func readArray(dec *json.Decoder, depth int) (*jsonNode, error) {
	n := &jsonNode{kind: jsonArray}
	for dec.More() {
		val, err := readJSON(dec, depth+1)
		if err != nil {
			return nil, err
		}
		n.elems = append(n.elems, val)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
		return nil, errJSON
	}
	return n, nil
}

// member returns the value of an object's key, or nil.
func (n *jsonNode) member(key string) *jsonNode {
	for i := range n.members {
		if n.members[i].key == key {
			return n.members[i].val
		}
	}
	return nil
}

// scalar reports whether n is a value IAM accepts where it expects a string: condition
// values may be written as JSON numbers and booleans and mean their text.
func (n *jsonNode) scalar() bool {
	return n.kind == jsonString || n.kind == jsonNumber || n.kind == jsonBool
}
