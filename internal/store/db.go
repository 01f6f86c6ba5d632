package store

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// nixSchema is Nix 2.8's src/libstore/schema.sql, verbatim: SQLite keeps the
// statement text, so `.schema` of an onix database matches Nix's exactly.
//
//go:embed schema.sql
var nixSchema string

// openDB opens db.sqlite with the settings Nix 2.8's LocalStore::openDB uses:
// foreign keys on, synchronous=normal, WAL journal, autocheckpoint 40000.
func openDB(ctx context.Context, path string, create bool, busy time.Duration) (*sql.DB, error) {
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("store database %s: %w", path, err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(normal)")
	q.Set("_txlock", "immediate")
	mode := "rw"
	if create {
		mode = "rwc"
	}
	q.Set("mode", mode)
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening store database %s: %w", path, err)
	}
	// One connection: SQLite serialises writers anyway, and it keeps the
	// per-connection pragmas in force for every statement.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)

	var jm string
	if err := db.QueryRowContext(ctx, "pragma main.journal_mode").Scan(&jm); err != nil {
		db.Close()
		return nil, dbErr(path, "reading journal mode", err)
	}
	if jm != "wal" {
		if err := db.QueryRowContext(ctx, "pragma main.journal_mode = wal").Scan(&jm); err != nil {
			db.Close()
			return nil, dbErr(path, "setting journal mode", err)
		}
	}
	if _, err := db.ExecContext(ctx, "pragma wal_autocheckpoint = 40000"); err != nil {
		db.Close()
		return nil, dbErr(path, "setting autocheckpoint interval", err)
	}
	if create {
		if _, err := db.ExecContext(ctx, nixSchema); err != nil {
			db.Close()
			return nil, dbErr(path, "creating schema", err)
		}
	}
	// Fail early and clearly on a file that is not a Nix database.
	var n int
	if err := db.QueryRowContext(ctx, "select count(*) from sqlite_master where type = 'table' and name in ('ValidPaths','Refs','DerivationOutputs')").Scan(&n); err != nil {
		db.Close()
		return nil, dbErr(path, "checking schema", err)
	}
	if n != 3 {
		db.Close()
		return nil, fmt.Errorf("store database %s: missing Nix tables (found %d of 3)", path, n)
	}
	return db, nil
}

// dbErr wraps an SQLite error with the database file and a hint for the
// common "busy"/"corrupt" cases.
func dbErr(path, what string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("store database %s is locked by another process (%s): %w", path, what, err)
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("store database %s is corrupt (%s): %w", path, what, err)
		case sqlite3.SQLITE_FULL:
			return fmt.Errorf("store database %s: disk full (%s): %w", path, what, err)
		}
	}
	if strings.Contains(err.Error(), "SQLITE_") {
		return fmt.Errorf("store database %s (%s): %w", path, what, err)
	}
	return fmt.Errorf("store database %s: %s: %w", path, what, err)
}

func (s *Store) dbPath() string { return s.dbDir + "/db.sqlite" }

func (s *Store) dbErr(what string, err error) error { return dbErr(s.dbPath(), what, err) }

// withTx runs fn in one IMMEDIATE transaction (a write lock up front, so two
// writers never deadlock upgrading).
func (s *Store) withTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.dbErr(what+": begin", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.dbErr(what+": commit", err)
	}
	return nil
}
