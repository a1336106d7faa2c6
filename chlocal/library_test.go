package chlocal_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tally-billing/tally/chlocal"
)

func writeFakeLib(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("not really ELF"), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestFindLibrary(t *testing.T) {
	root := t.TempDir()
	repoLib := filepath.Join(root, "repo", ".cache", "chdb", "package", "libchdb.so")
	writeFakeLib(t, repoLib)
	deep := filepath.Join(root, "repo", "a", "b")
	if err := os.MkdirAll(deep, 0o750); err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(root, "elsewhere")
	if err := os.MkdirAll(elsewhere, 0o750); err != nil {
		t.Fatal(err)
	}
	envLib := filepath.Join(root, "env", "libchdb.so")
	writeFakeLib(t, envLib)

	tests := []struct {
		name     string
		explicit string
		env      string
		cwd      string
		want     string
		wantErr  bool
	}{
		{name: "explicit wins over env", explicit: repoLib, env: envLib, cwd: elsewhere, want: repoLib},
		{name: "missing explicit is an error", explicit: filepath.Join(root, "nope.so"), env: envLib, cwd: deep, wantErr: true},
		{name: "env wins over search", env: envLib, cwd: deep, want: envLib},
		{name: "missing env is an error", env: filepath.Join(root, "nope.so"), cwd: deep, wantErr: true},
		{name: "env pointing at a directory is an error", env: root, cwd: deep, wantErr: true},
		{name: "search upward from cwd", cwd: deep, want: repoLib},
		{name: "found in cwd itself", cwd: filepath.Join(root, "repo"), want: repoLib},
		{name: "not found", cwd: elsewhere, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(chlocal.LibraryEnv, tc.env)
			t.Chdir(tc.cwd)
			got, err := chlocal.FindLibrary(tc.explicit)
			if tc.wantErr {
				if !errors.Is(err, chlocal.ErrLibraryNotFound) {
					t.Fatalf("FindLibrary = %q, %v; want ErrLibraryNotFound", got, err)
				}
				if !strings.Contains(err.Error(), "make chdb") {
					t.Errorf("error %q does not mention `make chdb`", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("FindLibrary = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
