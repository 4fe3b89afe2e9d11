package shape

import (
	"encoding/base64"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/banyancloud/banyan/api/protocol"
)

// ParseText sets the scalar v (of plan t) from its text form, as the query, ec2 and
// XML protocols carry every scalar. tsFormat is the field's timestampFormat; text
// timestamps are accepted in any format a client sends whatever it says. It reports
// false when s is not a valid value of the kind.
func ParseText(v reflect.Value, t *Type, s string) bool {
	switch t.Kind {
	case String:
		v.SetString(s)
	case Bool:
		switch strings.ToLower(s) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return false
		}
	case Int:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, t.Bits)
		if err != nil {
			return false
		}
		v.SetInt(n)
	case Float:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), t.Bits)
		if err != nil {
			return false
		}
		v.SetFloat(f)
	case Timestamp:
		ts, ok := protocol.ParseTimestamp(s)
		if !ok {
			return false
		}
		v.Set(reflect.ValueOf(ts))
	case Blob:
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		if err != nil {
			return false
		}
		v.SetBytes(b)
	default:
		return false
	}
	return true
}

// TimeStyle says how AppendText renders timestamps without an explicit format.
type TimeStyle uint8

// Time styles.
const (
	TimeISO8601       TimeStyle = iota // whole seconds unless there is a fraction (IAM, STS)
	TimeISO8601Millis                  // always milliseconds (EC2)
)

// AppendText appends the text form of scalar v (of plan t). tsFormat is the field's
// timestampFormat trait, overriding style.
func AppendText(b []byte, v reflect.Value, t *Type, tsFormat string, style TimeStyle) []byte {
	switch t.Kind {
	case String:
		return append(b, v.String()...)
	case Bool:
		return strconv.AppendBool(b, v.Bool())
	case Int:
		return strconv.AppendInt(b, v.Int(), 10)
	case Float:
		return AppendFloat(b, v.Float(), t.Bits)
	case Timestamp:
		ts := v.Interface().(time.Time)
		switch tsFormat {
		case protocol.TimestampRFC822:
			return append(b, protocol.FormatRFC822(ts)...)
		case protocol.TimestampUnix:
			return append(b, protocol.FormatEpoch(ts)...)
		}
		return protocol.AppendISO8601(b, ts, style == TimeISO8601Millis)
	case Blob:
		return base64.StdEncoding.AppendEncode(b, v.Bytes())
	}
	return b
}

// AppendFloat appends f the way AWS text and JSON protocols spell doubles, including
// the names botocore uses for the non-finite values.
func AppendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(b, f, 'e', -1, bits)
	}
	return strconv.AppendFloat(b, f, 'f', -1, bits)
}

// Scalar reports whether the kind serializes as a single text value.
func (k Kind) Scalar() bool {
	switch k {
	case String, Bool, Int, Float, Timestamp, Blob:
		return true
	}
	return false
}

// String names the kind the way AWS validation messages do.
func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Bool:
		return "boolean"
	case Int:
		return "integer"
	case Float:
		return "number"
	case Timestamp:
		return "timestamp"
	case Blob:
		return "base64-encoded blob"
	case Document:
		return "document"
	case Struct:
		return "structure"
	case List:
		return "list"
	case Map:
		return "map"
	}
	return "invalid"
}
