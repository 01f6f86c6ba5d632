package nsinit

import (
	"reflect"
	"strings"
	"testing"
)

func TestSpecRoundTrip(t *testing.T) {
	for _, s := range []*Spec{
		{},
		{
			Root:      "/nix/store/x.drv.chroot",
			Binds:     []Bind{{Src: "/a", Dst: "/r/a"}, {Src: "/b", Dst: "/r/b", RO: true}},
			SetGroups: true, Builder: "/bin/sh", Argv: []string{"sh", "-c", "echo \x00 ü " + strings.Repeat("x", 300)},
			Env: []string{"A=1", "B="}, Cwd: "/build", Seccomp: true, Dev: true,
		},
	} {
		got, err := Decode(s.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("round trip:\n got %#v\nwant %#v", got, s)
		}
	}
	full := (&Spec{Root: "/r", Binds: []Bind{{Src: "/a", Dst: "/b"}}, Argv: []string{"x"}}).Encode()
	for i := 0; i < len(full); i++ {
		if _, err := Decode(full[:i]); err == nil {
			t.Errorf("truncated to %d bytes: no error", i)
		}
	}
	if _, err := Decode(append(full, 0)); err == nil {
		t.Error("trailing byte: no error")
	}
}

// FuzzDecode: any input decodes without panicking, and whatever decodes
// re-encodes to the same bytes (the encoding has one form per spec).
func FuzzDecode(f *testing.F) {
	f.Add((&Spec{}).Encode())
	f.Add((&Spec{Root: "/r", Binds: []Bind{{Src: "/a", Dst: "/b", RO: true}}, Argv: []string{"x"}, Env: []string{"A=1"}, Seccomp: true}).Encode())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		if err != nil {
			return
		}
		if got := s.Encode(); string(got) != string(data) {
			t.Fatalf("decode then encode changed the bytes:\n in %x\nout %x", data, got)
		}
	})
}
