package chstore

import (
	"strings"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	sql := `-- a comment; with a semicolon
CREATE TABLE a (x String COMMENT 'a;b');

CREATE TABLE b
(
    y UInt8
);
-- trailing comment
SELECT 1`
	got := SplitStatements(sql)
	if len(got) != 3 {
		t.Fatalf("got %d statements: %q", len(got), got)
	}
	if !strings.HasPrefix(got[0], "CREATE TABLE a") || !strings.Contains(got[0], "'a;b'") {
		t.Errorf("first statement %q", got[0])
	}
	if !strings.HasPrefix(got[1], "CREATE TABLE b") || strings.HasSuffix(got[1], ";") {
		t.Errorf("second statement %q", got[1])
	}
	if got[2] != "SELECT 1" {
		t.Errorf("third statement %q", got[2])
	}
}

func TestMigrationsAreOrderedAndNamed(t *testing.T) {
	migs, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	// A number taken by a migration on another branch may be missing
	// until that branch is merged: 9 (0010 was written beside it).
	reserved := map[int]bool{9: true}
	want := 1
	for i, m := range migs {
		for reserved[want] && m.Version != want {
			want++
		}
		if m.Version != want {
			t.Errorf("migration %d has version %d; versions must be 1, 2, 3…", i, m.Version)
		}
		want = m.Version + 1
		if m.Name == "" || len(m.Statements) == 0 {
			t.Errorf("migration %d: name %q, %d statements", m.Version, m.Name, len(m.Statements))
		}
	}
}
