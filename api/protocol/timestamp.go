package protocol

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Timestamp formats of the botocore models' timestampFormat trait.
const (
	TimestampISO8601 = "iso8601"
	TimestampRFC822  = "rfc822"
	TimestampUnix    = "unixTimestamp"
)

// FormatISO8601 renders t in UTC the way AWS XML services do: whole seconds as
// 2006-01-02T15:04:05Z, otherwise with milliseconds. millis forces the millisecond
// form, which EC2 always uses.
func FormatISO8601(t time.Time, millis bool) string {
	return string(AppendISO8601(nil, t, millis))
}

// AppendISO8601 is FormatISO8601 appending to b.
func AppendISO8601(b []byte, t time.Time, millis bool) []byte {
	t = t.UTC()
	if millis || t.Nanosecond() >= int(time.Millisecond) {
		return t.AppendFormat(b, "2006-01-02T15:04:05.000Z")
	}
	return t.AppendFormat(b, "2006-01-02T15:04:05Z")
}

// FormatRFC822 renders t as S3 headers carry it (Last-Modified, Expires).
func FormatRFC822(t time.Time) string { return t.UTC().Format(http1123) }

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

// FormatEpoch renders t as epoch seconds: an integer when it has no sub-second part,
// else with millisecond precision, as the JSON protocols carry timestamps.
func FormatEpoch(t time.Time) string {
	ms := t.UnixMilli()
	if ms%1000 == 0 {
		return strconv.FormatInt(ms/1000, 10)
	}
	return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)
}

// EpochTime converts epoch seconds (possibly fractional) to a UTC time, rounding to
// the millisecond that clients send.
func EpochTime(sec float64) (time.Time, bool) {
	if math.IsNaN(sec) || math.IsInf(sec, 0) || math.Abs(sec) > 1e13 {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(math.Round(sec * 1000))).UTC(), true
}

// ParseTimestamp accepts every timestamp form real clients send in a text field:
// ISO 8601 with or without fraction and offset (botocore sends microseconds, the Go SDK
// milliseconds), RFC 822/1123 dates, and epoch seconds.
func ParseTimestamp(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if c := s[0]; c >= '0' && c <= '9' && len(s) >= 10 && s[4] == '-' {
		for _, layout := range isoLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC(), true
			}
		}
		return time.Time{}, false
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return EpochTime(f)
	}
	for _, layout := range []string{http1123, time.RFC1123Z, time.RFC850, time.ANSIC} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

var isoLayouts = []string{
	time.RFC3339Nano,                // 2006-01-02T15:04:05.999999999Z07:00, also without fraction
	"2006-01-02T15:04:05.999999999", // no zone: AWS reads it as UTC
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02",
}
