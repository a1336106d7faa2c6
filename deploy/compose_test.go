package deploy_test

import (
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// composeService is the part of a compose service the tests read.
type composeService struct {
	Image    string `yaml:"image"`
	Hostname string `yaml:"hostname"`
	Build    *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   yaml.Node         `yaml:"depends_on"`
	ReadOnly    bool              `yaml:"read_only"`
	Tmpfs       []string          `yaml:"tmpfs"`
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

const composePath = "compose/docker-compose.yml"

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	if err := yaml.Unmarshal(readFile(t, composePath), &c); err != nil {
		t.Fatalf("%s: %v", composePath, err)
	}
	if len(c.Services) == 0 {
		t.Fatalf("%s: no services", composePath)
	}
	return c
}

// dependsOn reads both forms of depends_on (a list or a map).
func dependsOn(t *testing.T, n yaml.Node) []string {
	t.Helper()
	switch n.Kind {
	case 0:
		return nil
	case yaml.SequenceNode:
		var out []string
		if err := n.Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	case yaml.MappingNode:
		var m map[string]any
		if err := n.Decode(&m); err != nil {
			t.Fatal(err)
		}
		return slices.Sorted(maps.Keys(m))
	}
	t.Fatalf("depends_on: unexpected YAML %v", n.Kind)
	return nil
}

// bindMounts maps container paths to host paths (relative to the compose
// file) for the bind mounts of a service.
func bindMounts(svc composeService) map[string]string {
	out := map[string]string{}
	for _, v := range svc.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && (strings.HasPrefix(parts[0], ".") || strings.HasPrefix(parts[0], "/")) {
			out[parts[1]] = filepath.Join(filepath.Dir(composePath), parts[0])
		}
	}
	return out
}

// servicesWithImage returns the names of the services of an image.
func servicesWithImage(c composeFile, prefix string) []string {
	var out []string
	for name, s := range c.Services {
		if strings.HasPrefix(s.Image, prefix) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func TestComposeReferences(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("service %s: neither image nor build", name)
		}
		if s.Hostname != "" && s.Hostname != name {
			t.Errorf("service %s: hostname %q differs from the service name", name, s.Hostname)
		}
		for _, dep := range dependsOn(t, s.DependsOn) {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("service %s depends on unknown service %s", name, dep)
			}
		}
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(filepath.Dir(composePath), src)); err != nil {
					t.Errorf("service %s: bind mount %s: %v", name, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s: volume %s is not declared", name, src)
			}
		}
		if s.Build != nil {
			ctx := filepath.Join(filepath.Dir(composePath), s.Build.Context)
			if _, err := os.Stat(filepath.Join(ctx, "go.mod")); err != nil {
				t.Errorf("service %s: build context %s is not the module root", name, s.Build.Context)
			}
			if _, err := os.Stat(filepath.Join(ctx, s.Build.Dockerfile)); err != nil {
				t.Errorf("service %s: dockerfile: %v", name, err)
			}
		}
		// Every from_env of a mounted ClickHouse file is set.
		for _, host := range bindMounts(s) {
			if filepath.Ext(host) != ".xml" {
				continue
			}
			for _, env := range fromEnvAttrs(t, host) {
				if s.Environment[env] == "" {
					t.Errorf("service %s: %s reads $%s, which is not set", name, host, env)
				}
			}
		}
	}
}

func TestComposeNATS(t *testing.T) {
	c := loadCompose(t)
	nats := servicesWithImage(c, "nats:")
	if len(nats) != 3 {
		t.Fatalf("want 3 nats services, got %v", nats)
	}
	for _, name := range nats {
		s := c.Services[name]
		checkNATSImage(t, "service "+name, s.Image)
		conf := cmdFlagValue(s.Command, "-c")
		host, ok := bindMounts(s)[conf]
		if !ok {
			t.Errorf("service %s: -c %q is not a mounted file", name, conf)
			continue
		}
		if got := parseNATS(t, host).ServerName; got != name {
			t.Errorf("service %s runs %s, whose server_name is %q", name, host, got)
		}
	}
}

func TestComposeClickHouse(t *testing.T) {
	c := loadCompose(t)
	servers := servicesWithImage(c, "clickhouse/clickhouse-server:")
	keepers := servicesWithImage(c, "clickhouse/clickhouse-keeper:")
	var hosts []string
	for _, sh := range clickhouseCluster(t).Shards {
		for _, r := range sh.Replicas {
			hosts = append(hosts, r.Host)
		}
	}
	mustContainAll(t, "clickhouse services vs cluster.xml", servers, hosts)
	tag := func(image string) string { return image[strings.LastIndex(image, ":")+1:] }
	for _, name := range servers {
		s := c.Services[name]
		m := bindMounts(s)
		for _, f := range []string{"cluster.xml", "keeper.xml", "macros.xml"} {
			if _, ok := m["/etc/clickhouse-server/config.d/"+f]; !ok {
				t.Errorf("service %s: no config.d/%s", name, f)
			}
		}
		if host, ok := m["/etc/clickhouse-server/config.d/macros.xml"]; ok {
			if got := parseCH(t, host).Macros.Replica; got != name {
				t.Errorf("service %s mounts %s, whose replica macro is %q", name, host, got)
			}
		}
		if s.Environment["CLICKHOUSE_DB"] != "tally" {
			t.Errorf("service %s: CLICKHOUSE_DB should create the tally database", name)
		}
		for _, k := range keepers {
			if tag(c.Services[k].Image) != tag(s.Image) {
				t.Errorf("keeper %s (%s) and server %s (%s) should run the same version", k, c.Services[k].Image, name, s.Image)
			}
		}
	}
	var keeperHosts []string
	for _, name := range keepers {
		host, ok := bindMounts(c.Services[name])["/etc/clickhouse-keeper/keeper_config.xml"]
		if !ok {
			t.Errorf("service %s: no keeper_config.xml", name)
			continue
		}
		own := ownKeeperHost(keeperNode{file: host, conf: parseCH(t, host)})
		if own != name {
			t.Errorf("service %s mounts %s, which is keeper %q", name, host, own)
		}
		keeperHosts = append(keeperHosts, own)
	}
	if len(keeperHosts) != 3 {
		t.Errorf("want 3 keeper services, got %v", keepers)
	}
}

func TestComposeTally(t *testing.T) {
	c := loadCompose(t)
	var tallies []string
	for name, s := range c.Services {
		if s.Build != nil {
			tallies = append(tallies, name)
		}
	}
	if len(tallies) < 2 {
		t.Fatalf("want 2 Tally replicas built from the Dockerfile, got %v", tallies)
	}
	nats := servicesWithImage(c, "nats:")
	servers := servicesWithImage(c, "clickhouse/clickhouse-server:")
	for _, name := range tallies {
		s := c.Services[name]
		where := "service " + name
		flags := checkRunArgs(t, where, s.Command)
		checkEnvNames(t, where, slices.Sorted(maps.Keys(s.Environment)))
		if flags["http-addr"] != "0.0.0.0:8080" {
			t.Errorf("%s: --http-addr %q, want 0.0.0.0:8080", where, flags["http-addr"])
		}
		mustContainAll(t, where+" --nats-url", natsURLHosts(t, flags["nats-url"]), nats)
		// The external ClickHouse: the image has no libchdb.
		dsn, err := url.Parse(flags["clickhouse-dsn"])
		if err != nil || dsn.Scheme != "clickhouse" || !slices.Contains(servers, dsn.Hostname()) {
			t.Errorf("%s: --clickhouse-dsn %q should name a clickhouse service %v", where, flags["clickhouse-dsn"], servers)
		} else if pw, _ := dsn.User.Password(); dsn.User.Username() != c.Services[dsn.Hostname()].Environment["CLICKHOUSE_USER"] ||
			pw != c.Services[dsn.Hostname()].Environment["CLICKHOUSE_PASSWORD"] || dsn.Path != "/"+c.Services[dsn.Hostname()].Environment["CLICKHOUSE_DB"] {
			t.Errorf("%s: --clickhouse-dsn user, password or database differ from service %s's", where, dsn.Hostname())
		}
		host, ok := bindMounts(s)[flags["keys-file"]]
		if !ok {
			t.Errorf("%s: --keys-file %q is not a mounted file", where, flags["keys-file"])
		} else {
			checkKeys(t, host, readFile(t, host))
		}
		if !s.ReadOnly || !slices.ContainsFunc(s.Tmpfs, func(m string) bool { return strings.HasPrefix(m, flags["data-dir"]+":") || m == flags["data-dir"] }) {
			t.Errorf("%s: want read_only with --data-dir %q on a tmpfs", where, flags["data-dir"])
		}
		deps := dependsOn(t, s.DependsOn)
		for _, n := range append(slices.Clone(nats), dsn.Hostname()) {
			if !slices.Contains(deps, n) {
				t.Errorf("%s does not depend on %s", where, n)
			}
		}
	}
}
