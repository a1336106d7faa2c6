package grafana_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type datasourceFileT struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name           string         `yaml:"name"`
		UID            string         `yaml:"uid"`
		Type           string         `yaml:"type"`
		Access         string         `yaml:"access"`
		JSONData       map[string]any `yaml:"jsonData"`
		SecureJSONData map[string]any `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

// envRefRE finds $VAR and ${VAR}, the references Grafana replaces in
// provisioning files.
var envRefRE = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// pluginSettings is what the ClickHouse plugin needs to connect, read the
// way its settings loader reads jsonData (strings or native values).
type pluginSettings struct {
	UID, Host, Protocol, Database, User, Password string
	Port                                          int64
	Secure                                        bool
}

// loadDatasource parses the data source file, replaces the environment
// references from env (as Grafana does when it loads the file) and returns
// the settings. Every reference must be in env.
func loadDatasource(t *testing.T, env map[string]string) pluginSettings {
	t.Helper()
	raw := readFile(t, datasourceFile)
	var f datasourceFileT
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", datasourceFile, err)
	}
	if f.APIVersion != 1 {
		t.Errorf("%s: apiVersion %d, want 1", datasourceFile, f.APIVersion)
	}
	if len(f.Datasources) != 1 {
		t.Fatalf("%s: %d data sources, want 1", datasourceFile, len(f.Datasources))
	}
	ds := f.Datasources[0]
	if ds.Type != pluginType {
		t.Errorf("data source type %q, want %q", ds.Type, pluginType)
	}
	if ds.UID == "" || ds.Name == "" {
		t.Errorf("data source needs a uid and a name, got %q %q", ds.UID, ds.Name)
	}
	expand := func(key string, v any) string {
		s := fmt.Sprint(v)
		for _, m := range envRefRE.FindAllStringSubmatch(s, -1) {
			if _, ok := env[m[1]]; !ok {
				t.Errorf("%s: %s refers to $%s, which the test does not set", datasourceFile, key, m[1])
			}
		}
		return envRefRE.ReplaceAllStringFunc(s, func(ref string) string {
			return env[envRefRE.FindStringSubmatch(ref)[1]]
		})
	}
	get := func(key string) string {
		v, ok := ds.JSONData[key]
		if !ok {
			t.Errorf("%s: jsonData has no %s", datasourceFile, key)
			return ""
		}
		return expand(key, v)
	}
	s := pluginSettings{
		UID:      ds.UID,
		Host:     get("host"),
		Protocol: get("protocol"),
		Database: get("defaultDatabase"),
		User:     get("username"),
	}
	var err error
	if s.Port, err = strconv.ParseInt(get("port"), 0, 64); err != nil || s.Port <= 0 {
		t.Errorf("port %q is not a port number (%v)", get("port"), err)
	}
	if s.Secure, err = strconv.ParseBool(get("secure")); err != nil {
		t.Errorf("secure %q is not a boolean: %v", get("secure"), err)
	}
	if s.Protocol != "native" && s.Protocol != "http" {
		t.Errorf("protocol %q, want native or http", s.Protocol)
	}
	if s.Host == "" || s.Database == "" || s.User == "" {
		t.Errorf("host %q, database %q and user %q must all be set", s.Host, s.Database, s.User)
	}
	pw, ok := ds.SecureJSONData["password"]
	if !ok {
		t.Errorf("%s: the password belongs in secureJsonData", datasourceFile)
	}
	if _, inPlain := ds.JSONData["password"]; inPlain {
		t.Errorf("%s: password in jsonData (stored in clear); use secureJsonData", datasourceFile)
	}
	s.Password = expand("password", pw)
	return s
}

func TestDatasourceProvisioning(t *testing.T) {
	raw := string(readFile(t, datasourceFile))
	readme := string(readFile(t, "README.md"))
	// Every variable the file reads is documented, in the file and in the
	// README, and none is hard-wired.
	var vars []string
	var settings strings.Builder // the file without its comments
	for _, l := range strings.Split(raw, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			settings.WriteString(l + "\n")
		}
	}
	for _, m := range envRefRE.FindAllStringSubmatch(settings.String(), -1) {
		if !slices.Contains(vars, m[1]) {
			vars = append(vars, m[1])
		}
	}
	want := []string{"CLICKHOUSE_HOST", "CLICKHOUSE_PORT", "CLICKHOUSE_PROTOCOL", "CLICKHOUSE_SECURE",
		"CLICKHOUSE_DATABASE", "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"}
	slices.Sort(vars)
	slices.Sort(want)
	if !slices.Equal(vars, want) {
		t.Errorf("%s reads %v, want %v", datasourceFile, vars, want)
	}
	for _, v := range want {
		if !regexp.MustCompile(`(?m)^#\s+` + v + `\s`).MatchString(raw) {
			t.Errorf("%s: the header comment does not document %s", datasourceFile, v)
		}
		if !strings.Contains(readme, "`"+v+"`") {
			t.Errorf("README.md does not document %s", v)
		}
	}
	s := loadDatasource(t, map[string]string{
		"CLICKHOUSE_HOST": "ch-1", "CLICKHOUSE_PORT": "9000", "CLICKHOUSE_PROTOCOL": "native",
		"CLICKHOUSE_SECURE": "false", "CLICKHOUSE_DATABASE": "tally", "CLICKHOUSE_USER": "grafana",
		"CLICKHOUSE_PASSWORD": "secret",
	})
	if s.Host != "ch-1" || s.Port != 9000 || s.Database != "tally" || s.User != "grafana" || s.Password != "secret" || s.Secure {
		t.Errorf("settings after expansion: %+v", s)
	}
}

type providerFileT struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name    string `yaml:"name"`
		Type    string `yaml:"type"`
		Folder  string `yaml:"folder"`
		Options struct {
			Path string `yaml:"path"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

func TestDashboardProvider(t *testing.T) {
	var f providerFileT
	if err := yaml.Unmarshal(readFile(t, providerFile), &f); err != nil {
		t.Fatalf("%s: %v", providerFile, err)
	}
	if f.APIVersion != 1 || len(f.Providers) != 1 {
		t.Fatalf("%s: apiVersion %d with %d providers, want 1 and 1", providerFile, f.APIVersion, len(f.Providers))
	}
	p := f.Providers[0]
	if p.Type != "file" || p.Name == "" || p.Folder == "" {
		t.Errorf("provider %+v: want a named file provider with a folder", p)
	}
	if !filepath.IsAbs(p.Options.Path) {
		t.Errorf("provider path %q is not absolute", p.Options.Path)
	}
	// The README tells where to put the dashboards: the provider's path.
	if !strings.Contains(string(readFile(t, "README.md")), p.Options.Path) {
		t.Errorf("README.md does not name the provider path %s", p.Options.Path)
	}
}
