package disk

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// decodePath is the inverse of keyPath, as Walk computes it edge by edge.
func decodePath(t testing.TB, p string) (string, bool) {
	t.Helper()
	key := ""
	for i, name := range strings.Split(p, "/") {
		frag, component, ok := decodeName(name)
		if !ok || (!component && i == 0) {
			return "", false
		}
		key = childKey(key, i == 0, frag, component)
	}
	return key, true
}

// checkKeyPath asserts what the layout relies on for one key.
func checkKeyPath(t testing.TB, key string) {
	t.Helper()
	p := keyPath(key)
	for name := range strings.SplitSeq(p, "/") {
		switch {
		case name == "" || name == "." || name == "..":
			t.Fatalf("key %q: path %q has element %q", key, p, name)
		case name[0] == '.':
			t.Fatalf("key %q: element %q could collide with a node's own entries", key, name)
		case len(name) > 255:
			t.Fatalf("key %q: element of %d bytes", key, len(name))
		case strings.ContainsRune(name, 0):
			t.Fatalf("key %q: element holds NUL", key)
		}
	}
	back, ok := decodePath(t, p)
	if !ok || back != key {
		t.Fatalf("key %q -> path %q -> key %q (ok %v)", key, p, back, ok)
	}
}

func TestKeyPathRoundTrip(t *testing.T) {
	for _, k := range trickyKeys() {
		checkKeyPath(t, k)
	}
	for i := range 2000 {
		b := randBytes(uint64(i), 1+i%1024)
		// Bias towards the bytes that matter: separators, escapes, dots.
		for j := range b {
			switch b[j] % 8 {
			case 0:
				b[j] = '/'
			case 1:
				b[j] = '.'
			case 2:
				b[j] = '%'
			case 3:
				b[j] = '+'
			}
		}
		checkKeyPath(t, string(b))
	}
}

func TestKeyPathExamples(t *testing.T) {
	for key, want := range map[string]string{
		"photos/2024/a.jpg": "photos/2024/a.jpg",
		"a/":                "a/%",
		"/a":                "%/a",
		"a//b":              "a/%/b",
		".":                 "%2E",
		"..":                "%2E.",
		"./x":               "%2E/x",
		"a b+c%d":           "a%20b%2Bc%25d",
		"日本":                "日本",
		".meta":             "%2Emeta",
	} {
		if got := keyPath(key); got != want {
			t.Errorf("keyPath(%q) = %q, want %q", key, got, want)
		}
	}
	// Long components continue in "+" children; splits keep runes whole.
	long := strings.Repeat("é", 200)
	p := keyPath(long)
	parts := strings.Split(p, "/")
	if len(parts) != 2 || parts[1][0] != '+' || !utf8.ValidString(parts[0]) || !utf8.ValidString(parts[1][1:]) {
		t.Fatalf("keyPath of 400 bytes of é: %q", p)
	}
}

func TestDecodeNameRejectsForeignNames(t *testing.T) {
	for _, name := range []string{".meta", ".data-x", "", "+", "%2", "%zz", "%41", "a%2f", "a b", "+%2"} {
		if _, _, ok := decodeName(name); ok {
			t.Errorf("decodeName(%q) accepted a name keyPath never makes", name)
		}
	}
}

func FuzzKeyPath(f *testing.F) {
	for _, k := range trickyKeys() {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if validObject(key) != nil {
			return
		}
		checkKeyPath(t, key)
	})
}
