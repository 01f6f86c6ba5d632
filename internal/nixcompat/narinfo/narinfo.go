// Package narinfo parses and writes binary-cache .narinfo files exactly as
// Nix 2.8 does, computes their signature fingerprints, and handles Nix's
// ed25519 signing keys.
package narinfo

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
	"github.com/onix-dev/onix/internal/nixcompat/storepath"
)

// NarInfo is one .narinfo file. References and Deriver are basenames.
type NarInfo struct {
	StorePath   string // full store path
	URL         string
	Compression string
	FileHash    hash.Hash // zero if absent
	FileSize    uint64
	NarHash     hash.Hash
	NarSize     uint64
	References  []string // basenames, kept sorted
	Deriver     string   // basename, "" if unknown
	System      string
	Sigs        []string // kept sorted (Nix stores them in a set)
	CA          string
}

// Parse parses a narinfo with Nix's rules: each line is split at the first
// ':' and the value starts two bytes later; unknown keys are ignored;
// missing Compression means bzip2; StorePath, URL, NarHash and a non-zero
// NarSize are required; hashes must carry an algo prefix. whence names the
// source in errors.
func Parse(sd storepath.StoreDir, whence string, data []byte) (*NarInfo, error) {
	corrupt := func(format string, args ...any) (*NarInfo, error) {
		return nil, fmt.Errorf("NAR info file '%s' is corrupt: %s", whence, fmt.Sprintf(format, args...))
	}
	ni := &NarInfo{}
	s := string(data)
	var havePath, haveNarHash, haveRefs, haveCA bool
	for pos := 0; pos < len(s); {
		eol := strings.IndexByte(s[pos:], '\n')
		if eol < 0 {
			return corrupt("line at offset %d has no newline", pos)
		}
		line := s[pos : pos+eol]
		colon := strings.IndexByte(line, ':')
		if colon < 0 || colon+1 >= len(line) || line[colon+1] != ' ' {
			return corrupt("malformed line %q", line)
		}
		name, value := line[:colon], line[colon+2:]
		var err error
		switch name {
		case "StorePath":
			if _, err = sd.Parse(value); err != nil {
				return corrupt("%v", err)
			}
			ni.StorePath, havePath = value, true
		case "URL":
			ni.URL = value
		case "Compression":
			ni.Compression = value
		case "FileHash":
			if ni.FileHash, err = hash.ParseAnyPrefixed(value); err != nil {
				return corrupt("FileHash: %v", err)
			}
		case "FileSize":
			if ni.FileSize, err = strconv.ParseUint(value, 10, 64); err != nil {
				return corrupt("FileSize: %v", err)
			}
		case "NarHash":
			if ni.NarHash, err = hash.ParseAnyPrefixed(value); err != nil {
				return corrupt("NarHash: %v", err)
			}
			haveNarHash = true
		case "NarSize":
			if ni.NarSize, err = strconv.ParseUint(value, 10, 64); err != nil {
				return corrupt("NarSize: %v", err)
			}
		case "References":
			if haveRefs {
				return corrupt("duplicate References")
			}
			haveRefs = true
			for _, r := range strings.Fields(value) {
				if _, err := storepath.ParseBaseName(r); err != nil {
					return corrupt("reference: %v", err)
				}
				ni.References = append(ni.References, r)
			}
		case "Deriver":
			if value != "unknown-deriver" {
				if _, err := storepath.ParseBaseName(value); err != nil {
					return corrupt("Deriver: %v", err)
				}
				ni.Deriver = value
			}
		case "System":
			ni.System = value
		case "Sig":
			ni.Sigs = append(ni.Sigs, value)
		case "CA":
			if haveCA {
				return corrupt("duplicate CA")
			}
			haveCA = true
			if _, err := storepath.ParseContentAddress(value); err != nil {
				return corrupt("CA: %v", err)
			}
			ni.CA = value
		}
		pos += eol + 1
	}
	if ni.Compression == "" {
		ni.Compression = "bzip2"
	}
	if !havePath || !haveNarHash || ni.URL == "" || ni.NarSize == 0 {
		return corrupt("missing StorePath, URL, NarHash or NarSize")
	}
	ni.References = storepath.SortedRefs(ni.References)
	ni.Sigs = storepath.SortedRefs(ni.Sigs)
	return ni, nil
}

// String renders the narinfo in Nix's field order. Hashes are written as
// "sha256:<nixbase32>"; "References: " keeps its trailing space when empty.
func (ni *NarInfo) String() string {
	var b strings.Builder
	b.WriteString("StorePath: " + ni.StorePath + "\n")
	b.WriteString("URL: " + ni.URL + "\n")
	b.WriteString("Compression: " + ni.Compression + "\n")
	if ni.FileHash.Algo.Valid() {
		b.WriteString("FileHash: " + ni.FileHash.Encode(hash.Base32, true) + "\n")
		b.WriteString("FileSize: " + strconv.FormatUint(ni.FileSize, 10) + "\n")
	}
	b.WriteString("NarHash: " + ni.NarHash.Encode(hash.Base32, true) + "\n")
	b.WriteString("NarSize: " + strconv.FormatUint(ni.NarSize, 10) + "\n")
	b.WriteString("References: " + strings.Join(storepath.SortedRefs(ni.References), " ") + "\n")
	if ni.Deriver != "" {
		b.WriteString("Deriver: " + ni.Deriver + "\n")
	}
	if ni.System != "" {
		b.WriteString("System: " + ni.System + "\n")
	}
	for _, s := range storepath.SortedRefs(ni.Sigs) {
		b.WriteString("Sig: " + s + "\n")
	}
	if ni.CA != "" {
		b.WriteString("CA: " + ni.CA + "\n")
	}
	return b.String()
}

// Fingerprint is the string Nix signs:
// "1;<path>;<sha256:nixbase32 narHash>;<narSize>;<comma-joined full refs>".
func Fingerprint(sd storepath.StoreDir, storePath string, narHash hash.Hash, narSize uint64, refs []string) (string, error) {
	if narHash.Algo != hash.SHA256 {
		return "", fmt.Errorf("fingerprint %s: NAR hash must be sha256", storePath)
	}
	if narSize == 0 {
		return "", fmt.Errorf("fingerprint %s: NAR size is zero", storePath)
	}
	full := make([]string, 0, len(refs))
	for _, r := range refs {
		if !strings.HasPrefix(r, "/") {
			r = string(sd) + "/" + r
		}
		full = append(full, r)
	}
	return "1;" + storePath + ";" + narHash.Encode(hash.Base32, true) + ";" +
		strconv.FormatUint(narSize, 10) + ";" + strings.Join(storepath.SortedRefs(full), ","), nil
}

// Fingerprint returns the signed fingerprint of ni.
func (ni *NarInfo) Fingerprint(sd storepath.StoreDir) (string, error) {
	return Fingerprint(sd, ni.StorePath, ni.NarHash, ni.NarSize, ni.References)
}

// Sign adds a signature by sk (replacing an existing one by the same key).
func (ni *NarInfo) Sign(sd storepath.StoreDir, sk SecretKey) error {
	fp, err := ni.Fingerprint(sd)
	if err != nil {
		return err
	}
	sig := sk.Sign([]byte(fp))
	kept := ni.Sigs[:0:0]
	for _, s := range ni.Sigs {
		if !strings.HasPrefix(s, sk.Name+":") {
			kept = append(kept, s)
		}
	}
	ni.Sigs = storepath.SortedRefs(append(kept, sig))
	return nil
}

// Verify reports how many of ni's signatures verify under the trusted keys.
func (ni *NarInfo) Verify(sd storepath.StoreDir, trusted []PublicKey) (int, error) {
	fp, err := ni.Fingerprint(sd)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range ni.Sigs {
		if VerifyAny([]byte(fp), s, trusted) {
			n++
		}
	}
	return n, nil
}
