// Package deploy_test checks the deployment files in deploy/ with the tools
// that can check them here: the NATS server's own configuration parser,
// encoding/xml for ClickHouse, a YAML parser for Kubernetes and compose,
// and the `tally run --help` of a freshly built binary for every flag and
// TALLY_* variable the files use. Nothing here starts a container.
package deploy_test

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tally-billing/tally/auth"
)

// repoRoot is the module root, one level above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found above deploy/: %v", err)
	}
	return root
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tallyCLI is what `tally run --help` of the real binary offers.
type tallyCLI struct {
	flags   map[string]bool // run flag names without dashes
	envs    map[string]bool // TALLY_* variables
	version string          // output of `tally version`
}

// The version the test binary is stamped with, the way the Dockerfile does
// it (-X main.version=...).
const testVersion = "deploy-test-1.2.3"

var (
	cliOnce sync.Once
	cli     tallyCLI
	cliErr  string
)

// runCLI builds ./cmd/tally once, as the Dockerfile builds it (static,
// CGO_ENABLED=0, version stamped with -ldflags), and reads its flags from
// `tally run --help`. cmd/tally is package main, so its flags cannot be
// imported.
func runCLI(t *testing.T) tallyCLI {
	t.Helper()
	root := repoRoot(t)
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tally-deploy-test")
		if err != nil {
			cliErr = err.Error()
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "tally")
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+testVersion, "-o", bin, "./cmd/tally")
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			cliErr = "building ./cmd/tally with CGO_ENABLED=0: " + err.Error() + "\n" + string(out)
			return
		}
		help, err := exec.Command(bin, "run", "--help").CombinedOutput()
		if err != nil {
			cliErr = "tally run --help: " + err.Error() + "\n" + string(help)
			return
		}
		version, err := exec.Command(bin, "version").CombinedOutput()
		if err != nil {
			cliErr = "tally version: " + err.Error() + "\n" + string(version)
			return
		}
		cli = parseHelp(string(help))
		cli.version = string(version)
	})
	if cliErr != "" {
		t.Fatal(cliErr)
	}
	return cli
}

var (
	helpFlagRE = regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9][a-z0-9-]*)`)
	helpEnvRE  = regexp.MustCompile(`\[\$(TALLY_[A-Z0-9_]+)\]`)
)

func parseHelp(help string) tallyCLI {
	c := tallyCLI{flags: map[string]bool{}, envs: map[string]bool{}}
	for _, m := range helpFlagRE.FindAllStringSubmatch(help, -1) {
		c.flags[m[1]] = true
	}
	for _, m := range helpEnvRE.FindAllStringSubmatch(help, -1) {
		c.envs[m[1]] = true
	}
	return c
}

func TestTallyBinaryAsTheDockerfileBuildsIt(t *testing.T) {
	c := runCLI(t)
	// The flags the deploy files lean on, so that parseHelp cannot quietly
	// find nothing.
	for _, f := range []string{"http-addr", "data-dir", "keys-file", "nats-url", "clickhouse-dsn", "stripe-key"} {
		if !c.flags[f] {
			t.Errorf("tally run --help does not list --%s; found %v", f, slices.Sorted(maps.Keys(c.flags)))
		}
		if env := envName(f); !c.envs[env] {
			t.Errorf("tally run --help does not list $%s", env)
		}
	}
	if !strings.Contains(c.version, testVersion) {
		t.Errorf("-X main.version did not reach `tally version`: %q", c.version)
	}
}

// envName mirrors cmd/tally: --close-grace ↔ TALLY_CLOSE_GRACE.
func envName(flag string) string {
	return "TALLY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// cmdFlags returns the --flags of a command line and their values ("" for
// a bare switch or a flag whose value is the next argument).
func cmdFlags(args []string) map[string]string {
	out := map[string]string{}
	for i, a := range args {
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			value = args[i+1]
		}
		out[name] = value
	}
	return out
}

// checkRunArgs checks a `tally run` command line against the real CLI and
// returns its flags.
func checkRunArgs(t *testing.T, where string, args []string) map[string]string {
	t.Helper()
	c := runCLI(t)
	if len(args) == 0 || args[0] != "run" {
		t.Errorf("%s: command should start with run, got %q", where, args)
	}
	flags := cmdFlags(args)
	for f := range flags {
		if !c.flags[f] {
			t.Errorf("%s: --%s is not a flag of tally run (it has %v)", where, f, slices.Sorted(maps.Keys(c.flags)))
		}
	}
	return flags
}

// checkEnvNames checks that every TALLY_* variable is one tally run reads.
func checkEnvNames(t *testing.T, where string, names []string) {
	t.Helper()
	c := runCLI(t)
	for _, n := range names {
		if strings.HasPrefix(n, "TALLY_") && !c.envs[n] {
			t.Errorf("%s: $%s is not read by tally run", where, n)
		}
	}
}

// natsURLHosts splits --nats-url into host names.
func natsURLHosts(t *testing.T, urls string) []string {
	t.Helper()
	var hosts []string
	for _, u := range strings.Split(urls, ",") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(u), "nats://")
		if !ok {
			t.Errorf("nats url %q: want nats://host:port", u)
			continue
		}
		host, port, ok := strings.Cut(rest, ":")
		if !ok || port != "4222" {
			t.Errorf("nats url %q: want the client port 4222", u)
		}
		hosts = append(hosts, host)
	}
	sort.Strings(hosts)
	return hosts
}

// goModVersion reads the go directive, or a required module's version.
func goModVersion(t *testing.T, module string) string {
	t.Helper()
	gomod := string(readFile(t, filepath.Join(repoRoot(t), "go.mod")))
	re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + `\s+v?(\S+)`)
	m := re.FindStringSubmatch(gomod)
	if m == nil {
		t.Fatalf("go.mod has no %s", module)
	}
	return m[1]
}

// majorMinor turns 1.26.8 into 1.26.
func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// TestReadmeNamesEveryFile keeps deploy/README.md an index of the folder.
func TestReadmeNamesEveryFile(t *testing.T) {
	readme := string(readFile(t, "README.md"))
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if path == "README.md" || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if !strings.Contains(readme, filepath.ToSlash(path)) {
			t.Errorf("deploy/README.md does not mention %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTrialKeysFile checks the compose trial's keys with Tally's own parser.
func TestTrialKeysFile(t *testing.T) {
	checkKeys(t, "compose/keys.json", readFile(t, "compose/keys.json"))
}

func checkKeys(t *testing.T, where string, data []byte) {
	t.Helper()
	if _, err := auth.Parse(data); err != nil {
		t.Errorf("%s: %v", where, err)
	}
	var f struct {
		Keys []struct{ Role string } `json:"keys"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	var roles []string
	for _, k := range f.Keys {
		roles = append(roles, k.Role)
	}
	for _, want := range []string{"ingest", "finance"} {
		if !slices.Contains(roles, want) {
			t.Errorf("%s: no %s key", where, want)
		}
	}
}

func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	df := string(readFile(t, "docker/Dockerfile"))
	lines := dockerLines(df)

	var froms, copies, runs []string
	var user, cmd, entrypoint string
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			froms = append(froms, rest)
		case "COPY":
			copies = append(copies, rest)
		case "RUN":
			runs = append(runs, rest)
		case "USER":
			user = rest
		case "CMD":
			cmd = rest
		case "ENTRYPOINT":
			entrypoint = rest
		}
	}
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got FROM %q", froms)
	}
	goVersion := majorMinor(goModVersion(t, "go"))
	if !strings.HasPrefix(froms[0], "golang:"+goVersion) {
		t.Errorf("build stage %q: want golang:%s (go.mod)", froms[0], goVersion)
	}
	build := strings.Join(runs, "\n")
	for _, want := range []string{`CGO_ENABLED=0 go build `, `-X main\.version=`, `\s\./cmd/tally(\s|$)`} {
		if !regexp.MustCompile(want).MatchString(build) {
			t.Errorf("Dockerfile RUN lines lack %s", want)
		}
	}
	if user == "" || strings.HasPrefix(user, "0") || strings.HasPrefix(user, "root") {
		t.Errorf("final stage should run as non-root, USER is %q", user)
	}
	// Sources copied from the build context exist.
	for _, c := range copies {
		fields := strings.Fields(c)
		var srcs []string
		fromStage := false
		for _, f := range fields {
			if strings.HasPrefix(f, "--from=") {
				fromStage = true
			}
			if !strings.HasPrefix(f, "--") {
				srcs = append(srcs, f)
			}
		}
		if fromStage || len(srcs) < 2 {
			continue
		}
		for _, src := range srcs[:len(srcs)-1] {
			if _, err := os.Stat(filepath.Join(root, src)); err != nil {
				t.Errorf("COPY %s: %v", src, err)
			}
		}
	}
	if !strings.Contains(entrypoint, "tally") {
		t.Errorf("ENTRYPOINT %q should run tally", entrypoint)
	}
	var args []string
	if err := json.Unmarshal([]byte(cmd), &args); err != nil {
		t.Fatalf("CMD %q: want the JSON form: %v", cmd, err)
	}
	flags := checkRunArgs(t, "Dockerfile CMD", args)
	if flags["http-addr"] == "" || strings.HasPrefix(flags["http-addr"], "127.") {
		t.Errorf("Dockerfile CMD: --http-addr should listen beyond loopback, got %q", flags["http-addr"])
	}

	// The build context is the repository root: keep the managed
	// ClickHouse library (Makefile CHDB_DIR) and local data out of it.
	ignore := strings.Fields(string(readFile(t, "docker/Dockerfile.dockerignore")))
	chdbDir := regexp.MustCompile(`(?m)^CHDB_DIR\s*:=\s*(\S+)`).FindStringSubmatch(string(readFile(t, filepath.Join(root, "Makefile"))))
	if chdbDir == nil {
		t.Fatal("Makefile has no CHDB_DIR")
	}
	top := strings.SplitN(chdbDir[1], "/", 2)[0]
	for _, want := range []string{top, ".tally", ".git"} {
		if !slices.Contains(ignore, want) {
			t.Errorf("Dockerfile.dockerignore does not exclude %s", want)
		}
	}
}

// dockerLines joins continuation lines and drops comments.
func dockerLines(df string) []string {
	var out []string
	var cur strings.Builder
	for _, l := range strings.Split(df, "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

// memBytes parses 1Gi, 512Mi, 900MiB, 50GB, 2MB (binary multiples, as
// NATS and Go's GOMEMLIMIT read them) into bytes.
func memBytes(t *testing.T, s string) int64 {
	t.Helper()
	re := regexp.MustCompile(`^(\d+)\s*([KMGT]?)(i?)(B?)$`)
	m := re.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		t.Fatalf("cannot read size %q", s)
	}
	var n int64
	for _, d := range m[1] {
		n = n*10 + int64(d-'0')
	}
	mult := map[string]int64{"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[m[2]]
	return n * mult
}

// milliCPU parses 500m or 1 into thousandths of a CPU.
func milliCPU(t *testing.T, s string) int64 {
	t.Helper()
	if v, ok := strings.CutSuffix(s, "m"); ok {
		return memBytes(t, v)
	}
	return memBytes(t, s) * 1000
}

func mustContainAll(t *testing.T, where string, got, want []string) {
	t.Helper()
	g := slices.Clone(got)
	w := slices.Clone(want)
	sort.Strings(g)
	sort.Strings(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s: got %q, want %q", where, g, w)
	}
}
