package shape

import "github.com/banyancloud/banyan/api/protocol"

// Missing returns the error for an absent required member.
func MissingError(path, member string, k Kind) *protocol.InputError {
	return &protocol.InputError{Path: path, Member: member, Kind: k.String(), Missing: true}
}

// Invalid returns the error for a value that is not of kind k.
func InvalidError(path, member, value string, k Kind) *protocol.InputError {
	return &protocol.InputError{Path: path, Member: member, Value: value, Kind: k.String()}
}

// MemberPath extends an AWS-style member path the way AWS validation messages spell
// it: lowerCamel member names, list elements as name.N.member.
func MemberPath(parent, name string) string {
	if name != "" && name[0] >= 'A' && name[0] <= 'Z' {
		name = string(name[0]+'a'-'A') + name[1:]
	}
	if parent == "" {
		return name
	}
	return parent + "." + name
}
