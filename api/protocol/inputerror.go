package protocol

// InputError is a decoding failure of one input member. Each codec maps it to the AWS
// error its protocol's services answer with (ValidationError for awsQuery,
// InvalidParameterValue/MissingParameter for EC2, SerializationException or
// ValidationException for the JSON and CBOR protocols); a service can override that
// mapping on its codec.
type InputError struct {
	Path    string // wire path, e.g. "Tags.member.1.Key"
	Member  string // AWS validation-message path, e.g. "tags.1.member.key"
	Value   string // the offending text, when there is one
	Kind    string // the kind that was expected: string, integer, timestamp, ...
	Missing bool   // a required member was absent
}

func (e *InputError) Error() string {
	if e.Missing {
		return "missing required parameter " + e.Path
	}
	return "invalid " + e.Kind + " value " + Quote(e.Value, 64) + " for " + e.Path
}

// Quote returns s in single quotes, cut to at most max bytes so an error message cannot
// echo a whole request back.
func Quote(s string, max int) string {
	if len(s) > max {
		s = s[:max] + "..."
	}
	return "'" + s + "'"
}
