package tallyproc

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// launcherCommand is the hidden subcommand of tally that runs the managed
// ClickHouse (daemon.LauncherCommand; a test keeps the two in step).
const launcherCommand = "__clickhouse-server"

// ClickHouseGrace is how long Stop and Kill wait for the managed ClickHouse
// to follow its daemon before they kill it: a graceful stop stops it, and
// it watches its parent when the daemon is killed.
const ClickHouseGrace = 30 * time.Second

// ClickHousePIDs lists the managed ClickHouse processes of a data dir,
// found by their command line (the launcher subcommand and
// --path=<dataDir>/clickhouse): normally one while its daemon runs, none
// with an external ClickHouse.
func ClickHousePIDs(dataDir string) []int {
	return findProcs(launcherCommand, "--path="+filepath.Join(dataDir, "clickhouse"))
}

// WaitClickHouseGone waits until no managed ClickHouse of dataDir is left;
// it sends SIGKILL to what is still there after timeout and waits 10s
// more. The error says what it had to kill.
func WaitClickHouseGone(dataDir string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var killed []int
	for {
		pids := ClickHousePIDs(dataDir)
		switch {
		case len(pids) == 0 && killed == nil:
			return nil
		case len(pids) == 0:
			return fmt.Errorf("managed clickhouse %v still running %s after its daemon; killed", killed, timeout)
		case killed != nil && time.Now().After(deadline):
			return fmt.Errorf("managed clickhouse %v still running after SIGKILL", pids)
		case killed == nil && time.Now().After(deadline):
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			killed, deadline = pids, time.Now().Add(10*time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// findProcs lists the live pids whose command line holds every one of
// parts.
func findProcs(parts ...string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(data) == 0 {
			continue
		}
		cmdline := strings.ReplaceAll(string(data), "\x00", " ")
		all := true
		for _, part := range parts {
			if !strings.Contains(cmdline, part) {
				all = false
				break
			}
		}
		if all && !isZombie(pid) {
			out = append(out, pid)
		}
	}
	return out
}

func isZombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}
