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

// The cluster DDL file is the output of `tally migrations render
// --clickhouse-cluster <the cluster of cluster.xml>`; chstore's tests check
// the rendering itself.
func TestExampleReplicatedDDL(t *testing.T) {
	cluster := clickhouseCluster(t).XMLName.Local
	want, err := chstore.RenderScript(cluster)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(readFile(t, "clickhouse/example-replicated-ddl.sql")); got != want {
		t.Errorf("clickhouse/example-replicated-ddl.sql is out of date; regenerate it from the repository root:\n"+
			"  go run ./cmd/tally migrations render --clickhouse-cluster %s > deploy/clickhouse/example-replicated-ddl.sql", cluster)
	}
	if !strings.Contains(want, "ON CLUSTER '"+cluster+"'") {
		t.Errorf("rendered DDL does not use the cluster %q of cluster.xml", cluster)
	}
}
