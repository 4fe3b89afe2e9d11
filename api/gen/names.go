package main

import (
	"html"
	"regexp"
	"strings"
	"unicode"
)

// exported turns an AWS name into an exported Go identifier, keeping AWS's spelling
// otherwise (member "arn" becomes Arn, not ARN) so that readers can map fields back to
// the API reference.
func exported(name string) string {
	var b strings.Builder
	for i, r := range name {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_':
			if i == 0 {
				if unicode.IsDigit(r) {
					b.WriteByte('X')
				}
				r = unicode.ToUpper(r)
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// capitalize upper-cases the first letter only, as botocore's EC2 serializer does with
// a locationName.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

var (
	tagRE   = regexp.MustCompile(`<[^>]*>`)
	spaceRE = regexp.MustCompile(`\s+`)
)

// firstSentence extracts a one-line summary from a model's HTML documentation.
func firstSentence(doc string) string {
	s := tagRE.ReplaceAllString(doc, " ")
	s = html.UnescapeString(s)
	s = strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	if len(s) > 200 {
		cut := strings.LastIndex(s[:200], " ")
		if cut < 100 {
			cut = 200
		}
		s = s[:cut] + " ..."
	}
	return s
}

// wrap renders text as // comment lines of at most width columns.
func wrap(text string, width int) string {
	var b strings.Builder
	line := "//"
	for _, w := range strings.Fields(text) {
		if len(line)+1+len(w) > width && line != "//" {
			b.WriteString(line + "\n")
			line = "//"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
	return b.String()
}
