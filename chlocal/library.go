package chlocal

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LibraryEnv names the environment variable FindLibrary consults after an
// explicit path.
const LibraryEnv = "TALLY_CHDB_LIB"

// libraryRelPath is where `make chdb` unpacks the library, relative to the
// repository root.
var libraryRelPath = filepath.Join(".cache", "chdb", "package", "libchdb.so")

// FindLibrary returns the path of libchdb.so. It tries, in order: explicit
// (if not empty), $TALLY_CHDB_LIB (if set), then .cache/chdb/package/libchdb.so
// in the working directory and each of its parents, then the same from the
// running executable's directory upward. An explicit or environment path
// that does not exist is an error rather than a reason to keep searching.
// Every failure wraps ErrLibraryNotFound.
func FindLibrary(explicit string) (string, error) {
	if explicit != "" {
		return checkLibrary(explicit, "explicit path")
	}
	if env := os.Getenv(LibraryEnv); env != "" {
		return checkLibrary(env, "$"+LibraryEnv)
	}

	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		starts = append(starts, filepath.Dir(exe))
	}
	for _, start := range starts {
		for dir := start; ; dir = filepath.Dir(dir) {
			candidate := filepath.Join(dir, libraryRelPath)
			if isRegularFile(candidate) {
				return candidate, nil
			}
			if parent := filepath.Dir(dir); parent == dir {
				break
			}
		}
	}
	return "", fmt.Errorf("%w: searched upward for %s from %s; run `make chdb` to fetch it, or set %s",
		ErrLibraryNotFound, libraryRelPath, strings.Join(starts, " and "), LibraryEnv)
}

func checkLibrary(path, source string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolving %s %q: %w", source, path, err)
	}
	if !isRegularFile(abs) {
		return "", fmt.Errorf("%w: %s %q is not a file; run `make chdb` to fetch it", ErrLibraryNotFound, source, path)
	}
	return abs, nil
}

func isRegularFile(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}
