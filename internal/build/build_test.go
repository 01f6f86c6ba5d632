package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onix-dev/onix/internal/nixcompat/hash"
)

func TestBuildRegistersRefsAndSkipsValid(t *testing.T) {
	e := newEnv(t)
	dep, depOuts := e.add(drvSpec{name: "dep", script: `echo dep > $out`})
	top, topOuts := e.add(drvSpec{name: "top", deps: []string{dep},
		env:    map[string]string{"dep": depOuts["out"]},
		script: `$builder mkdir $out && echo $dep > $out/ref && echo hi && echo $out > $out/self`})
	res, err := e.realise(e.opts(), top)
	if err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}
	if res[0].Outputs["out"] != topOuts["out"] {
		t.Fatalf("outputs %v", res[0].Outputs)
	}
	info, err := e.st.QueryPathInfo(context.Background(), topOuts["out"])
	if err != nil {
		t.Fatal(err)
	}
	wantRefs := []string{depOuts["out"], topOuts["out"]}
	slices.Sort(wantRefs)
	if !slices.Equal(info.References, wantRefs) || info.Deriver != top {
		t.Errorf("refs %v deriver %s; want %v %s", info.References, info.Deriver, wantRefs, top)
	}
	fi, err := os.Lstat(e.st.RealPath(topOuts["out"]) + "/ref")
	if err != nil || fi.Mode().Perm() != 0o444 || fi.ModTime().Unix() != 1 {
		t.Errorf("not canonical: %v %v", fi.Mode(), err)
	}
	for _, want := range []string{"these 2 derivations will be built:", "building '" + dep + "'...", "building '" + top + "'...", "\nhi\n"} {
		if !strings.Contains(e.out.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, e.out)
		}
	}
	// The log is stored and readable.
	rc, err := ReadLog(e.st, top)
	if err != nil {
		t.Fatal(err)
	}
	logData, _ := io.ReadAll(rc)
	rc.Close()
	if string(logData) != "hi\n" {
		t.Errorf("log = %q", logData)
	}
	// Second run: nothing to build.
	e.out = &syncBuffer{}
	o := e.opts()
	o.Status = e.out
	if _, err := e.realise(o, top); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.out.String(), "building") {
		t.Errorf("rebuilt a valid path:\n%s", e.out)
	}
}

// TestScheduling: a chain builds in order; a fan runs 2 at a time with -j 2.
func TestScheduling(t *testing.T) {
	e := newEnv(t)
	// Chain: each output holds the previous one's content plus its index.
	var prev, prevOut string
	var chain []string
	for i := 0; i < 5; i++ {
		s := drvSpec{name: fmt.Sprintf("chain-%d", i), script: fmt.Sprintf(`{ [ -n "$prev" ] && $builder cat $prev; echo %d; } > $out`, i)}
		if prev != "" {
			s.deps = []string{prev}
			s.env = map[string]string{"prev": prevOut}
		}
		d, outs := e.add(s)
		prev, prevOut = d, outs["out"]
		chain = append(chain, d)
	}
	if _, err := e.realise(e.opts(), prev); err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}
	if got := e.read(prevOut, ""); got != "0\n1\n2\n3\n4\n" {
		t.Errorf("chain output %q", got)
	}
	log := e.out.String()
	last := -1
	for _, d := range chain {
		i := strings.Index(log, "building '"+d+"'")
		if i < last {
			t.Errorf("chain built out of order:\n%s", log)
		}
		last = i
	}

	// Fan: 4 leaves sleeping 1s each, joined by one; with -j 2 the leaves
	// take ~2s, not ~4s or ~1s; each records its start/end time.
	var leaves []string
	env := map[string]string{}
	// now prints /proc/uptime in centiseconds (busybox date lacks %N).
	const now = `now() { $builder cut -d' ' -f1 /proc/uptime | $builder tr -d .; }; `
	for i := 0; i < 4; i++ {
		d, outs := e.add(drvSpec{name: fmt.Sprintf("leaf-%d", i),
			script: now + `s=$(now); $builder sleep 1; echo $s $(now) > $out`})
		leaves = append(leaves, d)
		env["leaf"+strconv.Itoa(i)] = outs["out"]
	}
	join, joinOuts := e.add(drvSpec{name: "join", deps: leaves, env: env,
		script: now + `s=$(now); $builder cat $leaf0 $leaf1 $leaf2 $leaf3 > $out; echo $s >> $out`})
	o := e.opts()
	o.MaxJobs = 2
	start := time.Now()
	if _, err := e.realise(o, join); err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}
	elapsed := time.Since(start)
	lines := strings.Fields(e.read(joinOuts["out"], ""))
	var maxEnd int64
	var intervals [][2]int64
	for i := 0; i < 4; i++ {
		s, _ := strconv.ParseInt(lines[2*i], 10, 64)
		en, _ := strconv.ParseInt(lines[2*i+1], 10, 64)
		intervals = append(intervals, [2]int64{s, en})
		maxEnd = max(maxEnd, en)
	}
	joinStart, _ := strconv.ParseInt(lines[8], 10, 64)
	if joinStart < maxEnd {
		t.Errorf("join started before a leaf finished")
	}
	// At most 2 overlapping at any time, and some overlap happened.
	maxOverlap := 0
	for _, a := range intervals {
		n := 0
		for _, b := range intervals {
			if b[0] <= a[0] && a[0] < b[1] {
				n++
			}
		}
		maxOverlap = max(maxOverlap, n)
	}
	if maxOverlap != 2 {
		t.Errorf("max concurrent leaves = %d, want 2 (elapsed %v)", maxOverlap, elapsed)
	}
}

func TestFixedOutput(t *testing.T) {
	e := newEnv(t)
	content := "hello\n"
	sha256 := hash.SumString(hash.SHA256, content)
	ok, okOuts := e.add(drvSpec{name: "fo-ok", script: `echo hello > $out`, hash: sha256.SRI()})
	sha1 := hash.SumString(hash.SHA1, content)
	ok1, _ := e.add(drvSpec{name: "fo-sha1", script: `echo hello > $out`, hash: sha1.Base16(), hashAlgo: "sha1"})
	// recursive sha512 over a directory
	rec, _ := e.add(drvSpec{name: "fo-rec", script: `$builder mkdir $out; echo hello > $out/f`,
		hash: "sha512-" + zeroB64(64), hashMode: "recursive"})
	bad, _ := e.add(drvSpec{name: "fo-bad", script: `echo bye > $out`, hash: sha256.SRI()})
	o := e.opts()
	o.KeepGoing = true
	_, err := e.realise(o, ok, ok1, rec, bad)
	if err == nil {
		t.Fatal("hash mismatches not detected")
	}
	msg := err.Error()
	wantBad := fmt.Sprintf("hash mismatch in fixed-output derivation '%s':\n  specified: %s\n     got:    %s",
		bad, sha256.SRI(), hash.SumString(hash.SHA256, "bye\n").SRI())
	if !strings.Contains(msg, wantBad) {
		t.Errorf("error lacks %q:\n%s", wantBad, msg)
	}
	if !strings.Contains(msg, "hash mismatch in fixed-output derivation '"+rec+"':\n  specified: sha512-") {
		t.Errorf("recursive mismatch not reported:\n%s", msg)
	}
	info, err2 := e.st.QueryPathInfo(context.Background(), okOuts["out"])
	if err2 != nil {
		t.Fatalf("fixed output not registered: %v", err2)
	}
	if info.CA != "fixed:sha256:"+sha256.Base32() {
		t.Errorf("CA = %q", info.CA)
	}
	var fe *FailedError
	if !errors.As(err, &fe) || len(fe.Failed) != 2 {
		t.Errorf("want 2 failures, got %v", err)
	}
}

func zeroB64(n int) string {
	return hash.Hash{Algo: hash.SHA512, Digest: make([]byte, n)}.Base64()
}

func TestKeepGoingAndKeepFailed(t *testing.T) {
	e := newEnv(t)
	fail, _ := e.add(drvSpec{name: "fails", script: `echo some-output; echo oops >&2; exit 3`})
	after, _ := e.add(drvSpec{name: "after-fail", deps: []string{fail}, script: `echo > $out`})
	other, otherOuts := e.add(drvSpec{name: "other", script: `$builder sleep 0.3; echo > $out`})
	o := e.opts()
	o.KeepGoing, o.KeepFailed = true, true
	o.QuietBuildOutput = true
	res, err := e.realise(o, after, other)
	if err == nil {
		t.Fatal("no error")
	}
	want := "builder for '" + fail + "' failed with exit code 3"
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "       > oops") {
		t.Errorf("error %q lacks %q and the log tail", err, want)
	}
	if res[1].Err != nil {
		t.Errorf("independent build failed with keep-going: %v", res[1].Err)
	}
	if ok, _ := e.st.IsValid(context.Background(), otherOuts["out"]); !ok {
		t.Error("independent output not built")
	}
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "dependency") {
		t.Errorf("dependent result: %v", res[0].Err)
	}
	out := e.out.String()
	i := strings.Index(out, "note: keeping build directory '")
	if i < 0 {
		t.Fatalf("no keep-failed note:\n%s", out)
	}
	dir := strings.SplitN(out[i+len("note: keeping build directory '"):], "'", 2)[0]
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("kept build dir missing: %v", err)
	}
}

func TestCheckMode(t *testing.T) {
	e := newEnv(t)
	det, _ := e.add(drvSpec{name: "det", script: `$builder mkdir $out; echo same > $out/a`})
	nondet, _ := e.add(drvSpec{name: "nondet", script: `$builder mkdir $out; echo same > $out/a; $builder head -c 16 /dev/urandom > $out/b`})
	if _, err := e.realise(e.opts(), det, nondet); err != nil {
		t.Fatal(err)
	}
	o := e.opts()
	o.Mode = Check
	if _, err := e.realise(o, det); err != nil {
		t.Fatalf("deterministic check failed: %v", err)
	}
	_, err := e.realise(o, nondet)
	if err == nil || !strings.Contains(err.Error(), "may not be deterministic") || !strings.Contains(err.Error(), "\n    /b") ||
		strings.Contains(err.Error(), "/a") {
		t.Fatalf("check: %v", err)
	}
	// Check of something never built.
	fresh, _ := e.add(drvSpec{name: "fresh", script: `echo > $out`})
	if _, err := e.realise(o, fresh); err == nil || !strings.Contains(err.Error(), "not valid, so checking is not possible") {
		t.Fatalf("check of invalid: %v", err)
	}
}

func TestBuiltinFetchurl(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "payload\n")
	})}
	go srv.Serve(ln)
	defer srv.Close()
	h := hash.SumString(hash.SHA256, "payload\n")
	d, outs := e.add(drvSpec{name: "fetched", builder: "builtin:fetchurl", hash: h.SRI(),
		env: map[string]string{"url": "http://" + ln.Addr().String() + "/x", "system": "builtin"}})
	if _, err := e.realise(e.opts(), d); err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}
	if got := e.read(outs["out"], ""); got != "payload\n" {
		t.Errorf("fetched %q", got)
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t)
	d, _ := e.add(drvSpec{name: "slow", script: `$builder sleep 60`})
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Realise(ctx, e.opts(), []Request{{Path: d}})
	if err == nil || time.Since(start) > 15*time.Second {
		t.Fatalf("err=%v after %v", err, time.Since(start))
	}
}
