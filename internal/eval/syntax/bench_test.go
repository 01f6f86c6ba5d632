package syntax

import (
	"fmt"
	"strings"
	"testing"
)

// bigSource builds about n bytes of Nixpkgs-like code: one large set of
// package definitions.
func bigSource(n int) []byte {
	var b strings.Builder
	b.WriteString("{ lib, stdenv, fetchurl, pkgs, ... }:\n\nlet\n  inherit (lib) optional optionals;\nin rec {\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `  pkg%d = stdenv.mkDerivation rec {
    pname = "pkg%d";
    version = "1.%d.0";
    src = fetchurl {
      url = "https://example.org/${pname}-${version}.tar.gz";
      sha256 = "0v3ikz0grvsk6mg5lgnbjv4zqgmd6x3hchw6kxlmxlzv01a4jlp5";
    };
    buildInputs = [ pkgs.zlib pkgs.openssl ] ++ optional stdenv.isLinux pkgs.systemd;
    configureFlags = [ "--with-foo=${pkgs.foo}" "--enable-bar" ] ++ optionals (i > 3) [ "--x" ];
    postInstall = ''
      mkdir -p $out/share/doc
      cp -r doc/* $out/share/doc/ # comment ''${escaped}
      echo ${lib.escapeShellArg pname} > $out/name
    '';
    meta = with lib; {
      description = "Package number %d";
      license = licenses.mit;
      platforms = platforms.unix;
      broken = !stdenv.isLinux && version < "1.0";
    };
  };
`, i, i, i, i)
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

// TestParseBig parses about 1 MB of Nixpkgs-like code (speed is measured by
// BenchmarkParse1MB; tests carry no timing assertions).
func TestParseBig(t *testing.T) {
	src := bigSource(1 << 20)
	f := &File{Name: "/big.nix", Dir: "/", Src: src}
	e, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.(*Lambda); !ok {
		t.Fatalf("parsed %T, want a function", e)
	}
}

func BenchmarkParse1MB(b *testing.B) {
	src := bigSource(1 << 20)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		f := &File{Name: "/big.nix", Dir: "/", Src: src}
		if _, err := Parse(f); err != nil {
			b.Fatal(err)
		}
	}
}
