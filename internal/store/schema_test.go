package store

import (
	"database/sql"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// vectorsDir finds shared/testdata/nix-vectors (ONIX_NIX_VECTORS overrides).
func vectorsDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("ONIX_NIX_VECTORS"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	for d := filepath.Dir(file); d != "/"; d = filepath.Dir(d) {
		for _, c := range []string{"shared/testdata/nix-vectors", "../shared/testdata/nix-vectors", "testdata/nix-vectors"} {
			p := filepath.Join(d, c)
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				return p
			}
		}
	}
	t.Skip("nix-vectors not found")
	return ""
}

func masterSQL(t *testing.T, dbPath string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("select sql from sqlite_master where sql is not null order by rowid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		b.WriteString(s + ";\n")
	}
	return b.String()
}

// The schema Nix shows with `.schema` is the statement text SQLite stored.
func TestSchemaMatchesNix(t *testing.T) {
	root := newRoot(t)
	s := openTest(t, root)
	want, err := os.ReadFile(filepath.Join(vectorsDir(t), "db/schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	got := masterSQL(t, s.dbPath())
	if got != string(want) {
		t.Errorf("schema differs from Nix's:\n--- got\n%s\n--- want\n%s", got, want)
	}
	b, err := os.ReadFile(filepath.Join(root, "nix/var/nix/db/schema"))
	if err != nil || string(b) != "10" {
		t.Errorf("schema file = %q, %v", b, err)
	}
	var jm string
	if err := s.db.QueryRow("pragma journal_mode").Scan(&jm); err != nil || jm != "wal" {
		t.Errorf("journal_mode = %q, %v", jm, err)
	}
	for _, f := range []string{"nix/var/nix/db/big-lock", "nix/var/nix/gcroots", "nix/var/nix/profiles", "nix/var/nix/temproots", "nix/store"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Error(err)
		}
	}
	// A Nix-created database has the same sqlite_master.
	requireNix(t, "nix-store")
	nroot := newRoot(t)
	nix(t, nroot, "nix-store", "--add", filepath.Join(root, "nix/var/nix/db/schema"))
	if n := masterSQL(t, filepath.Join(nroot, "nix/var/nix/db/db.sqlite")); n != got {
		t.Errorf("sqlite_master differs from a Nix-created db:\n%s\nvs\n%s", got, n)
	}
}
