package deploy_test

import (
	"errors"
	"io"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The parts of Kubernetes objects the tests read.
type (
	objectMeta struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	}
	labelSelector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	probe struct {
		HTTPGet *struct {
			Path string `yaml:"path"`
			Port any    `yaml:"port"`
		} `yaml:"httpGet"`
		TimeoutSeconds int `yaml:"timeoutSeconds"`
	}
	envVar struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	}
	securityContext struct {
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		RunAsUser                *int  `yaml:"runAsUser"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	}
	container struct {
		Name    string   `yaml:"name"`
		Image   string   `yaml:"image"`
		Command []string `yaml:"command"`
		Args    []string `yaml:"args"`
		Env     []envVar `yaml:"env"`
		EnvFrom []struct {
			ConfigMapRef *struct {
				Name string `yaml:"name"`
			} `yaml:"configMapRef"`
			SecretRef *struct {
				Name string `yaml:"name"`
			} `yaml:"secretRef"`
		} `yaml:"envFrom"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		StartupProbe   *probe `yaml:"startupProbe"`
		LivenessProbe  *probe `yaml:"livenessProbe"`
		ReadinessProbe *probe `yaml:"readinessProbe"`
		Resources      struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		SecurityContext securityContext `yaml:"securityContext"`
		VolumeMounts    []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	}
	volume struct {
		Name     string    `yaml:"name"`
		EmptyDir *struct{} `yaml:"emptyDir"`
		Secret   *struct {
			SecretName string `yaml:"secretName"`
			Items      []struct {
				Key  string `yaml:"key"`
				Path string `yaml:"path"`
			} `yaml:"items"`
		} `yaml:"secret"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
	}
	podSpec struct {
		TerminationGracePeriodSeconds int             `yaml:"terminationGracePeriodSeconds"`
		SecurityContext               securityContext `yaml:"securityContext"`
		Containers                    []container     `yaml:"containers"`
		Volumes                       []volume        `yaml:"volumes"`
	}
	podTemplate struct {
		Metadata objectMeta `yaml:"metadata"`
		Spec     podSpec    `yaml:"spec"`
	}
	deployment struct {
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			Replicas int           `yaml:"replicas"`
			Selector labelSelector `yaml:"selector"`
			Template podTemplate   `yaml:"template"`
		} `yaml:"spec"`
	}
	statefulSet struct {
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			Replicas             int           `yaml:"replicas"`
			ServiceName          string        `yaml:"serviceName"`
			Selector             labelSelector `yaml:"selector"`
			Template             podTemplate   `yaml:"template"`
			VolumeClaimTemplates []struct {
				Spec struct {
					Resources struct {
						Requests map[string]string `yaml:"requests"`
					} `yaml:"resources"`
				} `yaml:"spec"`
			} `yaml:"volumeClaimTemplates"`
		} `yaml:"spec"`
	}
	service struct {
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			ClusterIP string            `yaml:"clusterIP"`
			Selector  map[string]string `yaml:"selector"`
			Ports     []struct {
				Name       string `yaml:"name"`
				Port       int    `yaml:"port"`
				TargetPort any    `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	pdb struct {
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			MinAvailable   *int          `yaml:"minAvailable"`
			MaxUnavailable *int          `yaml:"maxUnavailable"`
			Selector       labelSelector `yaml:"selector"`
		} `yaml:"spec"`
	}
	configMap struct {
		Metadata objectMeta        `yaml:"metadata"`
		Data     map[string]string `yaml:"data"`
	}
	secret struct {
		Metadata   objectMeta        `yaml:"metadata"`
		StringData map[string]string `yaml:"stringData"`
	}
)

// manifest is one YAML document of deploy/kubernetes.
type manifest struct {
	file       string
	apiVersion string
	kind       string
	name       string
	namespace  string
	node       *yaml.Node
}

type manifests []manifest

// loadManifests parses every document of every deploy/kubernetes/*.yaml
// and checks that each is a Kubernetes object.
func loadManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no manifests in kubernetes/")
	}
	var out manifests
	for _, f := range files {
		dec := yaml.NewDecoder(strings.NewReader(string(readFile(t, f))))
		for i := 0; ; i++ {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s document %d: %v", f, i+1, err)
			}
			var head struct {
				APIVersion string     `yaml:"apiVersion"`
				Kind       string     `yaml:"kind"`
				Metadata   objectMeta `yaml:"metadata"`
			}
			if err := doc.Decode(&head); err != nil {
				t.Fatalf("%s document %d: %v", f, i+1, err)
			}
			where := f + " document " + strconv.Itoa(i+1)
			if head.APIVersion == "" || head.Kind == "" {
				t.Errorf("%s: apiVersion %q, kind %q: both are required", where, head.APIVersion, head.Kind)
			}
			if head.Metadata.Name == "" && head.Kind != "Kustomization" {
				t.Errorf("%s (%s): metadata.name is required", where, head.Kind)
			}
			out = append(out, manifest{
				file: f, apiVersion: head.APIVersion, kind: head.Kind,
				name: head.Metadata.Name, namespace: head.Metadata.Namespace, node: &doc,
			})
		}
	}
	return out
}

// find decodes the object of a kind and name into v.
func (m manifests) find(t *testing.T, kind, name string, v any) {
	t.Helper()
	for _, o := range m {
		if o.kind == kind && o.name == name {
			if err := o.node.Decode(v); err != nil {
				t.Fatalf("%s %s: %v", kind, name, err)
			}
			return
		}
	}
	t.Fatalf("no %s %q in kubernetes/", kind, name)
}

func (m manifests) deployment(t *testing.T, name string) (d deployment) {
	m.find(t, "Deployment", name, &d)
	return d
}

func (m manifests) statefulSet(t *testing.T, name string) (s statefulSet) {
	m.find(t, "StatefulSet", name, &s)
	return s
}

func (m manifests) service(t *testing.T, name string) (s service) {
	m.find(t, "Service", name, &s)
	return s
}

func (m manifests) configMap(t *testing.T, name string) (c configMap) {
	m.find(t, "ConfigMap", name, &c)
	return c
}

func hasEnvFromField(c container, name, fieldPath string) bool {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == fieldPath {
			return true
		}
	}
	return false
}

// selects reports whether a selector picks pods with these labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestKubernetesObjects(t *testing.T) {
	m := loadManifests(t)
	var ns string
	for _, o := range m {
		if o.kind == "Namespace" {
			ns = o.name
		}
	}
	if ns == "" {
		t.Fatal("no Namespace in kubernetes/")
	}
	for _, o := range m {
		switch o.kind {
		case "Namespace":
		case "Kustomization":
			var k struct {
				Namespace string   `yaml:"namespace"`
				Resources []string `yaml:"resources"`
			}
			if err := o.node.Decode(&k); err != nil {
				t.Fatal(err)
			}
			checkKustomization(t, o.file, k.Namespace, k.Resources, ns)
		default:
			if o.namespace != ns {
				t.Errorf("%s: %s %s is in namespace %q, want %q", o.file, o.kind, o.name, o.namespace, ns)
			}
		}
	}
}

// checkKustomization: every manifest but the secret template is listed,
// and everything listed exists.
func checkKustomization(t *testing.T, file, namespace string, resources []string, ns string) {
	t.Helper()
	if namespace != ns {
		t.Errorf("%s: namespace %q, want %q", file, namespace, ns)
	}
	files, _ := filepath.Glob("kubernetes/*.yaml")
	var want []string
	for _, f := range files {
		base := filepath.Base(f)
		if base != "kustomization.yaml" && base != "secret.example.yaml" {
			want = append(want, base)
		}
	}
	mustContainAll(t, file+" resources", resources, want)
}

func TestKubernetesTallyDeployment(t *testing.T) {
	m := loadManifests(t)
	d := m.deployment(t, "tally")
	if d.Spec.Replicas < 2 {
		t.Errorf("Deployment tally: %d replicas, want 2 or more", d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	if !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels) {
		t.Error("Deployment tally: selector does not match the pod labels")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("Deployment tally: want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]

	// The command line, against the real `tally run`.
	flags := checkRunArgs(t, "Deployment tally", c.Args)
	if got := flags["http-addr"]; got != "0.0.0.0:8080" {
		t.Errorf("--http-addr %q, want 0.0.0.0:8080", got)
	}
	for _, f := range []string{"nats-url", "keys-file", "data-dir"} {
		if flags[f] == "" {
			t.Errorf("Deployment tally: --%s is not set", f)
		}
	}
	env := map[string]envVar{}
	var envNames []string
	for _, e := range c.Env {
		env[e.Name] = e
		envNames = append(envNames, e.Name)
	}
	checkEnvNames(t, "Deployment tally env", envNames)
	// External ClickHouse, from the command line or the secret.
	if flags["clickhouse-dsn"] == "" && env["TALLY_CLICKHOUSE_DSN"].ValueFrom == nil {
		t.Error("Deployment tally: neither --clickhouse-dsn nor TALLY_CLICKHOUSE_DSN from a secret: it would start a managed ClickHouse")
	}

	// ConfigMaps and secrets it refers to exist and hold the keys.
	sec := m.secretTemplate(t)
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			if _, ok := sec.StringData[ref.Key]; ref.Name != sec.Metadata.Name || !ok {
				t.Errorf("env %s: secret %s key %s is not in secret.example.yaml", e.Name, ref.Name, ref.Key)
			}
		}
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil {
			cm := m.configMap(t, ef.ConfigMapRef.Name)
			checkEnvNames(t, "ConfigMap "+cm.Metadata.Name, slices.Sorted(maps.Keys(cm.Data)))
		}
	}

	// Probes on the HTTP port.
	httpPort := ""
	for _, p := range c.Ports {
		if p.ContainerPort == 8080 {
			httpPort = p.Name
		}
	}
	if httpPort == "" {
		t.Error("Deployment tally: no container port 8080")
	}
	checkProbe := func(name string, p *probe, wantPath string) {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("Deployment tally: no %s probe", name)
			return
		}
		if p.HTTPGet.Path != wantPath {
			t.Errorf("%s probe path %q, want %s", name, p.HTTPGet.Path, wantPath)
		}
		if port := p.HTTPGet.Port; port != httpPort && port != 8080 {
			t.Errorf("%s probe port %v, want the HTTP port", name, port)
		}
	}
	checkProbe("liveness", c.LivenessProbe, "/healthz")
	checkProbe("readiness", c.ReadinessProbe, "/readyz")
	// /readyz gives NATS and ClickHouse 2s; the probe must wait longer.
	if c.ReadinessProbe != nil && c.ReadinessProbe.TimeoutSeconds <= 2 {
		t.Errorf("readiness probe timeout %ds: /readyz may take 2s", c.ReadinessProbe.TimeoutSeconds)
	}

	// Resources: ~1 GiB and 1 CPU per replica, requests within limits,
	// and the Go heap limit under the memory limit.
	r := c.Resources
	for _, res := range []string{"cpu", "memory"} {
		if r.Requests[res] == "" || r.Limits[res] == "" {
			t.Errorf("Deployment tally: %s request %q, limit %q: both are required", res, r.Requests[res], r.Limits[res])
		}
	}
	if r.Limits["memory"] != "" {
		limit := memBytes(t, r.Limits["memory"])
		if limit != 1<<30 {
			t.Errorf("memory limit %s, want 1Gi", r.Limits["memory"])
		}
		if r.Requests["memory"] != "" && memBytes(t, r.Requests["memory"]) > limit {
			t.Error("memory request above the limit")
		}
		gomem := env["GOMEMLIMIT"].Value
		if gomem == "" || memBytes(t, gomem) >= limit {
			t.Errorf("GOMEMLIMIT %q should be set below the memory limit %s", gomem, r.Limits["memory"])
		}
	}
	if r.Limits["cpu"] != "" {
		if milliCPU(t, r.Limits["cpu"]) != 1000 {
			t.Errorf("cpu limit %s, want 1", r.Limits["cpu"])
		}
		if r.Requests["cpu"] != "" && milliCPU(t, r.Requests["cpu"]) > milliCPU(t, r.Limits["cpu"]) {
			t.Error("cpu request above the limit")
		}
	}

	// Non-root, read-only root file system, data dir on an emptyDir and
	// the keys file from the secret.
	checkHardened(t, "Deployment tally", pod.SecurityContext, c.SecurityContext)
	if pod.TerminationGracePeriodSeconds <= 30 {
		t.Errorf("terminationGracePeriodSeconds %d: Tally's shutdown may take 30s", pod.TerminationGracePeriodSeconds)
	}
	vols := map[string]volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	mountOf := func(p string) (volume, string, bool) {
		for _, vm := range c.VolumeMounts {
			if p == vm.MountPath || strings.HasPrefix(p, vm.MountPath+"/") {
				return vols[vm.Name], strings.TrimPrefix(strings.TrimPrefix(p, vm.MountPath), "/"), vm.ReadOnly
			}
		}
		return volume{}, "", false
	}
	if v, _, ro := mountOf(flags["data-dir"]); v.EmptyDir == nil || ro {
		t.Errorf("--data-dir %s should be a writable emptyDir mount", flags["data-dir"])
	}
	v, file, _ := mountOf(flags["keys-file"])
	if v.Secret == nil || v.Secret.SecretName != sec.Metadata.Name {
		t.Fatalf("--keys-file %s is not mounted from secret %s", flags["keys-file"], sec.Metadata.Name)
	}
	key := file
	for _, it := range v.Secret.Items {
		if it.Path == file {
			key = it.Key
		}
	}
	keys, ok := sec.StringData[key]
	if !ok {
		t.Fatalf("--keys-file %s: secret key %q is not in the template", flags["keys-file"], key)
	}
	checkKeys(t, "secret.example.yaml "+key, []byte(keys))

	// Service and PodDisruptionBudget select these pods.
	svc := m.service(t, "tally")
	if !selects(svc.Spec.Selector, d.Spec.Template.Metadata.Labels) {
		t.Error("Service tally does not select the Deployment's pods")
	}
	for _, p := range svc.Spec.Ports {
		if p.TargetPort != httpPort && p.TargetPort != 8080 {
			t.Errorf("Service tally port %s targets %v, not the HTTP port", p.Name, p.TargetPort)
		}
	}
	var b pdb
	m.find(t, "PodDisruptionBudget", "tally", &b)
	if !selects(b.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels) {
		t.Error("PodDisruptionBudget tally does not select the Deployment's pods")
	}
	if b.Spec.MinAvailable == nil || *b.Spec.MinAvailable < 1 || *b.Spec.MinAvailable >= d.Spec.Replicas {
		t.Errorf("PodDisruptionBudget tally: minAvailable should be 1..%d", d.Spec.Replicas-1)
	}
}

func (m manifests) secretTemplate(t *testing.T) (s secret) {
	t.Helper()
	for _, o := range m {
		if o.kind == "Secret" && filepath.Base(o.file) == "secret.example.yaml" {
			if err := o.node.Decode(&s); err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	t.Fatal("no Secret in kubernetes/secret.example.yaml")
	return s
}

func checkHardened(t *testing.T, where string, pod, c securityContext) {
	t.Helper()
	isTrue := func(b *bool) bool { return b != nil && *b }
	if !isTrue(pod.RunAsNonRoot) && !isTrue(c.RunAsNonRoot) {
		t.Errorf("%s: runAsNonRoot is not set", where)
	}
	if (pod.RunAsUser != nil && *pod.RunAsUser == 0) || (c.RunAsUser != nil && *c.RunAsUser == 0) {
		t.Errorf("%s: runs as uid 0", where)
	}
	if !isTrue(c.ReadOnlyRootFilesystem) {
		t.Errorf("%s: readOnlyRootFilesystem is not set", where)
	}
	if c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation should be false", where)
	}
	if !slices.Contains(c.Capabilities.Drop, "ALL") {
		t.Errorf("%s: capabilities should drop ALL", where)
	}
}

func TestKubernetesNATS(t *testing.T) {
	m := loadManifests(t)
	sts := m.statefulSet(t, "nats")
	pod := sts.Spec.Template.Spec
	if !selects(sts.Spec.Selector.MatchLabels, sts.Spec.Template.Metadata.Labels) {
		t.Error("StatefulSet nats: selector does not match the pod labels")
	}
	c := pod.Containers[0]
	checkHardened(t, "StatefulSet nats", pod.SecurityContext, c.SecurityContext)
	// The config file named on the command line is the ConfigMap's.
	conf := cmdFlagValue(c.Args, "-c")
	var mounted bool
	for _, vm := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil && v.ConfigMap.Name == "nats-config" &&
				path.Join(vm.MountPath, "nats.conf") == conf {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("StatefulSet nats: -c %q is not nats.conf of ConfigMap nats-config", conf)
	}
	for name, p := range map[string]*probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || !strings.HasPrefix(p.HTTPGet.Path, "/healthz") {
			t.Errorf("StatefulSet nats: %s probe should use /healthz", name)
		}
	}
	if c.Resources.Limits["memory"] == "" || c.Resources.Requests["cpu"] == "" {
		t.Error("StatefulSet nats: resources are not set")
	}
	checkNATSImage(t, "StatefulSet nats", c.Image)
	var b pdb
	m.find(t, "PodDisruptionBudget", "nats", &b)
	if b.Spec.MaxUnavailable == nil || *b.Spec.MaxUnavailable != 1 {
		t.Error("PodDisruptionBudget nats: maxUnavailable should be 1 (keeps the R3 quorum)")
	}
}

// cmdFlagValue returns the value after a short flag like -c.
func cmdFlagValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// checkNATSImage keeps the NATS image on the server version whose parser
// these tests use (go.mod).
func checkNATSImage(t *testing.T, where, image string) {
	t.Helper()
	want := "nats:" + majorMinor(goModVersion(t, "github.com/nats-io/nats-server/v2"))
	if !strings.HasPrefix(image, want) {
		t.Errorf("%s: image %q, want %s (the nats-server version in go.mod)", where, image, want)
	}
}
