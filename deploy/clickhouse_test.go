package deploy_test

import (
	"encoding/xml"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tally-billing/tally/chstore"
)

// The parts of ClickHouse configuration the tests read.
type (
	fromEnv struct {
		Value   string `xml:",chardata"`
		FromEnv string `xml:"from_env,attr"`
	}
	chReplica struct {
		Host string `xml:"host"`
		Port int    `xml:"port"`
	}
	chShard struct {
		InternalReplication bool        `xml:"internal_replication"`
		Replicas            []chReplica `xml:"replica"`
	}
	chCluster struct {
		XMLName xml.Name
		Secret  *fromEnv  `xml:"secret"`
		Shards  []chShard `xml:"shard"`
	}
	chConfig struct {
		XMLName       xml.Name `xml:"clickhouse"`
		RemoteServers struct {
			Clusters []chCluster `xml:",any"`
		} `xml:"remote_servers"`
		Zookeeper struct {
			Nodes []chReplica `xml:"node"`
		} `xml:"zookeeper"`
		Macros struct {
			Cluster string `xml:"cluster"`
			Shard   string `xml:"shard"`
			Replica string `xml:"replica"`
		} `xml:"macros"`
		DistributedDDL struct {
			Path string `xml:"path"`
		} `xml:"distributed_ddl"`
		KeeperServer struct {
			TCPPort   int    `xml:"tcp_port"`
			ServerID  int    `xml:"server_id"`
			LogPath   string `xml:"log_storage_path"`
			SnapPath  string `xml:"snapshot_storage_path"`
			RaftNodes []struct {
				ID       int    `xml:"id"`
				Hostname string `xml:"hostname"`
				Port     int    `xml:"port"`
			} `xml:"raft_configuration>server"`
		} `xml:"keeper_server"`
	}
)

func parseCH(t *testing.T, path string) chConfig {
	t.Helper()
	var c chConfig
	if err := xml.Unmarshal(readFile(t, path), &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// fromEnvAttrs lists the environment variables an XML file reads
// (from_env="..."), for the compose check.
func fromEnvAttrs(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`from_env="([^"]+)"`).FindAllStringSubmatch(string(readFile(t, path)), -1) {
		out = append(out, m[1])
	}
	return out
}

// clickhouseCluster returns the single cluster of config.d/cluster.xml.
func clickhouseCluster(t *testing.T) chCluster {
	t.Helper()
	c := parseCH(t, "clickhouse/config.d/cluster.xml")
	if len(c.RemoteServers.Clusters) != 1 {
		t.Fatalf("cluster.xml: want one cluster in remote_servers, got %d", len(c.RemoteServers.Clusters))
	}
	return c.RemoteServers.Clusters[0]
}

// keeperNode is one parsed keeper/keeper-N.xml.
type keeperNode struct {
	file string
	conf chConfig
}

func keeperNodes(t *testing.T) []keeperNode {
	t.Helper()
	files, err := filepath.Glob("clickhouse/keeper/*.xml")
	if err != nil {
		t.Fatal(err)
	}
	var out []keeperNode
	for _, f := range files {
		out = append(out, keeperNode{file: f, conf: parseCH(t, f)})
	}
	return out
}

// ownKeeperHost is the raft host name of a keeper node's own server_id.
func ownKeeperHost(k keeperNode) string {
	for _, s := range k.conf.KeeperServer.RaftNodes {
		if s.ID == k.conf.KeeperServer.ServerID {
			return s.Hostname
		}
	}
	return ""
}

func TestClickHouseCluster(t *testing.T) {
	cl := clickhouseCluster(t)
	if cl.XMLName.Local != "tally" {
		t.Errorf("cluster.xml: cluster %q, want tally", cl.XMLName.Local)
	}
	if cl.Secret == nil || (cl.Secret.FromEnv == "" && strings.TrimSpace(cl.Secret.Value) == "") {
		t.Error("cluster.xml: set an interserver <secret> for the cluster")
	}
	var hosts []string
	for i, sh := range cl.Shards {
		if !sh.InternalReplication {
			t.Errorf("cluster.xml shard %d: internal_replication must be true with Replicated tables", i+1)
		}
		if len(sh.Replicas) != 2 {
			t.Errorf("cluster.xml shard %d: want 2 replicas, got %d", i+1, len(sh.Replicas))
		}
		for _, r := range sh.Replicas {
			if r.Host == "" || r.Port != 9000 {
				t.Errorf("cluster.xml shard %d: replica %+v: want a host on the native port 9000", i+1, r)
			}
			hosts = append(hosts, r.Host)
		}
	}
	if len(cl.Shards) != 1 {
		t.Errorf("cluster.xml: %d shards; the README recommends one shard for Tally", len(cl.Shards))
	}
	if parseCH(t, "clickhouse/config.d/cluster.xml").DistributedDDL.Path == "" {
		t.Error("cluster.xml: no distributed_ddl path for ON CLUSTER")
	}

	// One macros file per replica, naming it, in the same shard and cluster.
	files, err := filepath.Glob("clickhouse/macros/*.xml")
	if err != nil {
		t.Fatal(err)
	}
	var replicas []string
	for _, f := range files {
		mc := parseCH(t, f).Macros
		if mc.Cluster != cl.XMLName.Local {
			t.Errorf("%s: cluster macro %q, want %q", f, mc.Cluster, cl.XMLName.Local)
		}
		if mc.Shard == "" {
			t.Errorf("%s: no shard macro", f)
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".xml"); mc.Replica != want {
			t.Errorf("%s: replica macro %q, want %q (the file's host)", f, mc.Replica, want)
		}
		replicas = append(replicas, mc.Replica)
	}
	mustContainAll(t, "macros replicas vs cluster.xml hosts", replicas, hosts)
}

func TestClickHouseKeeper(t *testing.T) {
	nodes := keeperNodes(t)
	if len(nodes) != 3 {
		t.Fatalf("want 3 keeper nodes, got %d", len(nodes))
	}
	ids := map[int]bool{}
	var raft0 []string
	var hosts []string
	for i, k := range nodes {
		ks := k.conf.KeeperServer
		if ks.TCPPort == 0 || ks.LogPath == "" || ks.SnapPath == "" {
			t.Errorf("%s: tcp_port, log_storage_path and snapshot_storage_path are required", k.file)
		}
		if ids[ks.ServerID] {
			t.Errorf("%s: server_id %d is used twice", k.file, ks.ServerID)
		}
		ids[ks.ServerID] = true
		var raft []string
		for _, s := range ks.RaftNodes {
			raft = append(raft, strconv.Itoa(s.ID)+"@"+s.Hostname+":"+strconv.Itoa(s.Port))
		}
		sort.Strings(raft)
		if i == 0 {
			raft0 = raft
		} else if strings.Join(raft, ",") != strings.Join(raft0, ",") {
			t.Errorf("%s: raft_configuration %v differs from %s's %v", k.file, raft, nodes[0].file, raft0)
		}
		own := ownKeeperHost(k)
		if own == "" {
			t.Errorf("%s: server_id %d is not in its raft_configuration", k.file, ks.ServerID)
		}
		if want := strings.TrimSuffix(filepath.Base(k.file), ".xml"); own != want {
			t.Errorf("%s: own raft host %q, want %q (the file's host)", k.file, own, want)
		}
		hosts = append(hosts, own)
	}
	if len(raft0) != 3 {
		t.Errorf("raft_configuration lists %d servers, want 3", len(raft0))
	}

	// ClickHouse servers find every keeper node on its client port.
	zk := parseCH(t, "clickhouse/config.d/keeper.xml").Zookeeper.Nodes
	var zkHosts []string
	for _, n := range zk {
		zkHosts = append(zkHosts, n.Host)
		if n.Port != nodes[0].conf.KeeperServer.TCPPort {
			t.Errorf("keeper.xml: %s port %d, keeper tcp_port is %d", n.Host, n.Port, nodes[0].conf.KeeperServer.TCPPort)
		}
	}
	mustContainAll(t, "keeper.xml nodes vs keeper raft hosts", zkHosts, hosts)
}

var (
	createRE      = regexp.MustCompile(`(?is)^CREATE\s+(TABLE|MATERIALIZED\s+VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)(.*)$`)
	onClusterRE   = regexp.MustCompile(`(?i)\bON\s+CLUSTER\s+(\w+)`)
	replicatedRE  = regexp.MustCompile(`(?i)ENGINE\s*=\s*Replicated\w*MergeTree\(\s*'([^']+)'\s*,\s*'\{replica\}'`)
	distributedRE = regexp.MustCompile(`(?i)ENGINE\s*=\s*Distributed\(\s*(\w+)\s*,\s*[\w()]+\s*,\s*(\w+)`)
	columnRE      = regexp.MustCompile(`(?m)^\s+(\w+)\s+[A-Z]\w*`)
)

// columns lists the column names of a CREATE TABLE (name, type) list.
func columns(stmt string) []string {
	open := strings.Index(stmt, "(")
	end := strings.Index(stmt, "\n)")
	if open < 0 || end < open {
		return nil
	}
	var out []string
	for _, m := range columnRE.FindAllStringSubmatch(stmt[open+1:end], -1) {
		out = append(out, m[1])
	}
	return out
}

func TestExampleReplicatedDDL(t *testing.T) {
	cluster := clickhouseCluster(t).XMLName.Local
	stmts := chstore.SplitStatements(string(readFile(t, "clickhouse/example-replicated-ddl.sql")))
	created := map[string]string{}
	var replicated, distributed int
	for _, s := range stmts {
		m := createRE.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("not a CREATE TABLE or MATERIALIZED VIEW: %.60q", s)
			continue
		}
		name := m[2]
		created[name] = s
		if oc := onClusterRE.FindStringSubmatch(s); oc == nil || oc[1] != cluster {
			t.Errorf("%s: want ON CLUSTER %s", name, cluster)
		}
		if strings.Contains(strings.ToUpper(m[1]), "VIEW") {
			continue
		}
		switch {
		case replicatedRE.MatchString(s):
			replicated++
			p := replicatedRE.FindStringSubmatch(s)[1]
			for _, macro := range []string{"{shard}", "{database}"} {
				if !strings.Contains(p, macro) {
					t.Errorf("%s: Keeper path %q lacks %s", name, p, macro)
				}
			}
			if !strings.HasSuffix(name, "_local") {
				t.Errorf("%s: a replicated table should be <table>_local", name)
			}
			if strings.Contains(s, "non_replicated_deduplication_window") {
				t.Errorf("%s: use replicated_deduplication_window on a replicated table", name)
			}
		case distributedRE.MatchString(s):
			distributed++
			d := distributedRE.FindStringSubmatch(s)
			if d[1] != cluster {
				t.Errorf("%s: Distributed over cluster %q, want %q", name, d[1], cluster)
			}
			if _, ok := created[d[2]]; !ok || d[2] != name+"_local" {
				t.Errorf("%s: Distributed over %q, want %s_local created before it", name, d[2], name)
			}
		default:
			t.Errorf("%s: want a Replicated*MergeTree or Distributed engine", name)
		}
	}
	if replicated == 0 || distributed == 0 {
		t.Errorf("want ReplicatedMergeTree and Distributed tables, got %d and %d", replicated, distributed)
	}

	// The example keeps the columns of the migration it shows.
	mig := string(readFile(t, filepath.Join(repoRoot(t), "chstore/migrations/0001_events.sql")))
	migTables := map[string]string{}
	for _, s := range chstore.SplitStatements(mig) {
		if m := createRE.FindStringSubmatch(s); m != nil {
			migTables[m[2]] = s
		}
	}
	for _, table := range []string{"events", "event_ids"} {
		want := columns(migTables[table])
		if len(want) == 0 {
			t.Fatalf("no columns found for %s in 0001_events.sql", table)
		}
		if got := columns(created[table+"_local"]); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s_local columns %v, migration's %s has %v", table, got, table, want)
		}
	}
}
