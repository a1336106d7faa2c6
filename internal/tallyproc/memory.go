package tallyproc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory returns the resident set size (VmRSS) of pid and its peak
// (VmHWM), in bytes, from /proc/<pid>/status.
func Memory(pid int) (rss, peak int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("reading status of %d: %w", pid, err)
	}
	var seen int
	for line := range strings.SplitSeq(string(data), "\n") {
		name, rest, _ := strings.Cut(line, ":")
		if name != "VmRSS" && name != "VmHWM" {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parsing %s of %d: %w", name, pid, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
		seen++
	}
	if seen != 2 {
		return 0, 0, fmt.Errorf("reading status of %d: no VmRSS or VmHWM", pid)
	}
	return rss, peak, nil
}
