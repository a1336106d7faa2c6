package deploy_test

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tally-billing/tally/pipeline"
)

// natsNode is what the tests need from one parsed NATS configuration.
type natsNode struct {
	file string
	opts *server.Options
}

// parseNATS reads a configuration with the NATS server's own parser.
func parseNATS(t *testing.T, path string) *server.Options {
	t.Helper()
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return opts
}

// checkNATSCluster checks nodes that should form one JetStream cluster and
// returns their server names.
func checkNATSCluster(t *testing.T, nodes []natsNode) []string {
	t.Helper()
	if len(nodes) != 3 {
		t.Fatalf("want 3 NATS nodes, got %d", len(nodes))
	}
	var maxMsg int32
	for _, sc := range (pipeline.TopologyConfig{Replicas: 3}).Streams() {
		maxMsg = max(maxMsg, sc.MaxMsgSize)
	}
	var names []string
	clusterPort := nodes[0].opts.Cluster.Port
	for _, n := range nodes {
		o := n.opts
		if !o.JetStream {
			t.Errorf("%s: JetStream is off", n.file)
		}
		if o.StoreDir == "" {
			t.Errorf("%s: no JetStream store_dir", n.file)
		}
		if o.JetStreamMaxStore <= 0 {
			t.Errorf("%s: set jetstream max_file_store; the events stream is unbounded by itself", n.file)
		}
		if o.ServerName == "" {
			t.Errorf("%s: no server_name (JetStream clustering needs one per node)", n.file)
		}
		if o.Cluster.Name != "tally" || o.Cluster.Name != nodes[0].opts.Cluster.Name {
			t.Errorf("%s: cluster name %q, want tally on every node", n.file, o.Cluster.Name)
		}
		if o.Cluster.Port == 0 || o.Cluster.Port != clusterPort {
			t.Errorf("%s: cluster port %d, want the same non-zero port on every node (%d)", n.file, o.Cluster.Port, clusterPort)
		}
		if o.MaxPayload <= maxMsg {
			t.Errorf("%s: max_payload %d must exceed the streams' MaxMsgSize %d (dead letters add headers)", n.file, o.MaxPayload, maxMsg)
		}
		names = append(names, o.ServerName)
	}
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			t.Errorf("server_name %q is used twice", name)
		}
		seen[name] = true
	}
	return names
}

// checkRoutes checks that every node routes to exactly the given hosts on
// the cluster port.
func checkRoutes(t *testing.T, nodes []natsNode, hosts []string) {
	t.Helper()
	for _, n := range nodes {
		var got []string
		for _, r := range n.opts.Routes {
			if r.Scheme != "nats-route" && r.Scheme != "nats" {
				t.Errorf("%s: route %s: want nats-route://", n.file, r)
			}
			if r.Port() != strconv.Itoa(n.opts.Cluster.Port) {
				t.Errorf("%s: route %s is not on the cluster port %d", n.file, r, n.opts.Cluster.Port)
			}
			got = append(got, r.Hostname())
		}
		mustContainAll(t, n.file+": route hosts", got, hosts)
	}
}

func TestNATSSingleServer(t *testing.T) {
	o := parseNATS(t, "nats/nats-server.conf")
	if !o.JetStream || o.StoreDir == "" {
		t.Errorf("nats/nats-server.conf: JetStream %v, store_dir %q", o.JetStream, o.StoreDir)
	}
}

func TestNATSClusterFiles(t *testing.T) {
	files, err := filepath.Glob("nats/cluster/*.conf")
	if err != nil {
		t.Fatal(err)
	}
	var nodes []natsNode
	for _, f := range files {
		nodes = append(nodes, natsNode{file: f, opts: parseNATS(t, f)})
	}
	names := checkNATSCluster(t, nodes)
	// In compose the host names are the server names (nats-1..3).
	sort.Strings(names)
	checkRoutes(t, nodes, names)
}

// natsStatefulSet returns the NATS configuration of kubernetes/nats.yaml as
// each pod of the StatefulSet sees it.
func TestNATSKubernetesConfig(t *testing.T) {
	m := loadManifests(t)
	sts := m.statefulSet(t, "nats")
	cm := m.configMap(t, "nats-config")
	conf, ok := cm.Data["nats.conf"]
	if !ok {
		t.Fatal("ConfigMap nats-config has no nats.conf")
	}
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if sts.Spec.Replicas != 3 {
		t.Errorf("StatefulSet nats: %d replicas, want 3", sts.Spec.Replicas)
	}
	var nodes []natsNode
	var podHosts []string
	for i := range sts.Spec.Replicas {
		pod := sts.Metadata.Name + "-" + strconv.Itoa(i)
		// server_name: $POD_NAME, set from the downward API.
		t.Setenv("POD_NAME", pod)
		nodes = append(nodes, natsNode{file: "nats.yaml (" + pod + ")", opts: parseNATS(t, path)})
		podHosts = append(podHosts, pod+"."+sts.Spec.ServiceName+"."+sts.Metadata.Namespace+".svc.cluster.local")
	}
	names := checkNATSCluster(t, nodes)
	mustContainAll(t, "nats.yaml server names", names, []string{"nats-0", "nats-1", "nats-2"})
	checkRoutes(t, nodes, podHosts)

	c := sts.Spec.Template.Spec.Containers[0]
	if !hasEnvFromField(c, "POD_NAME", "metadata.name") {
		t.Error("StatefulSet nats: POD_NAME must come from metadata.name")
	}
	if m.service(t, sts.Spec.ServiceName).Spec.ClusterIP != "None" {
		t.Errorf("Service %s must be headless for the route names", sts.Spec.ServiceName)
	}
	// The volume holds the whole JetStream store.
	var storage string
	for _, vct := range sts.Spec.VolumeClaimTemplates {
		storage = vct.Spec.Resources.Requests["storage"]
	}
	if storage == "" || memBytes(t, storage) < nodes[0].opts.JetStreamMaxStore {
		t.Errorf("StatefulSet nats: volume %q is smaller than max_file_store %d", storage, nodes[0].opts.JetStreamMaxStore)
	}

	// Tally connects to exactly these pods.
	dep := m.deployment(t, "tally")
	flags := cmdFlags(dep.Spec.Template.Spec.Containers[0].Args)
	mustContainAll(t, "Deployment tally --nats-url", natsURLHosts(t, flags["nats-url"]), podHosts)
}
