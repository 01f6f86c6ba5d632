package storepath

import (
	"sort"

	"github.com/onix-dev/onix/internal/nixcompat/nixbase32"
)

// RefScanner is an io.Writer that records which candidate hash parts occur in
// the bytes written to it, like Nix's RefScanSink. It scans in place without
// buffering the stream: only the last HashLen bytes are kept so matches that
// straddle two writes are found.
type RefScanner struct {
	candidates map[string]struct{}
	seen       map[string]struct{}
	tail       []byte
	window     []byte // scratch for boundary scans, reused across writes
}

// NewRefScanner returns a scanner for the given 32-character hash parts.
// Entries that are not valid hash parts can never match and are ignored.
func NewRefScanner(hashParts []string) *RefScanner {
	s := &RefScanner{
		candidates: make(map[string]struct{}, len(hashParts)),
		seen:       make(map[string]struct{}),
		tail:       make([]byte, 0, HashLen),
		window:     make([]byte, 0, 2*HashLen),
	}
	for _, h := range hashParts {
		if ValidateHashPart(h) == nil {
			s.candidates[h] = struct{}{}
		}
	}
	return s
}

// Write scans p. It never fails.
func (s *RefScanner) Write(p []byte) (int, error) {
	if len(s.candidates) == len(s.seen) {
		return len(p), nil // everything already found
	}
	tailLen := min(len(p), HashLen)
	s.window = append(append(s.window[:0], s.tail...), p[:tailLen]...)
	s.search(s.window)
	s.search(p)
	// Keep the last HashLen bytes of tail+p for the next boundary.
	if keep := HashLen - tailLen; keep < len(s.tail) {
		s.tail = append(s.tail[:0], s.tail[len(s.tail)-keep:]...)
	}
	s.tail = append(s.tail, p[len(p)-tailLen:]...)
	return len(p), nil
}

// search finds candidate hashes in b. When a window contains a non-base32
// byte it skips past that byte, checking from the window's end first, so
// binary data is scanned in far fewer than len(b) steps; bytes already known
// to be digits are not re-checked, so long digit runs stay linear.
func (s *RefScanner) search(b []byte) {
	i := 0
	validEnd := 0 // every byte in b[i:validEnd] is known to be a base32 digit
	for i+HashLen <= len(b) {
		if validEnd < i {
			validEnd = i
		}
		j := i + HashLen - 1
		for ; j >= validEnd; j-- {
			if !nixbase32.IsValidChar(b[j]) {
				break
			}
		}
		if j >= validEnd {
			i = j + 1
			continue
		}
		validEnd = i + HashLen
		if _, ok := s.candidates[string(b[i:i+HashLen])]; ok {
			s.seen[string(b[i:i+HashLen])] = struct{}{}
		}
		i++
	}
}

// Found returns the candidate hash parts seen so far, sorted.
func (s *RefScanner) Found() []string {
	out := make([]string, 0, len(s.seen))
	for h := range s.seen {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// FoundPaths filters full store paths in d down to those whose hash part was
// seen, sorted; unparsable entries are skipped.
func (s *RefScanner) FoundPaths(d StoreDir, paths []string) []string {
	var out []string
	for _, p := range paths {
		sp, err := d.Parse(p)
		if err != nil {
			continue
		}
		if _, ok := s.seen[sp.HashPart]; ok {
			out = append(out, p)
		}
	}
	return SortedRefs(out)
}
