// Package walkthrough runs README.md's "Try it" walkthrough the way a new
// user does: against a real `tally run` process (embedded NATS JetStream,
// the managed ClickHouse, dev keys), each ```sh block pasted as one piece
// into one shell, with no pause between its commands, and checks that the
// output shows every figure the README states.
package walkthrough

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tally-billing/tally/chlocal"
	"github.com/tally-billing/tally/internal/tallyproc"
)

// A check is one figure the README states and where the output shows it.
type check struct {
	// cmd picks the command: the first one of the block whose text
	// contains cmd, from the previous check's command on.
	cmd string
	// states is the figure as the README's section writes it (in the
	// block's comments, a table or the text); empty when it writes none.
	states string
	shows  []string // regexps the command's output must match
	hides  []string // regexps it must not match
}

// walkthrough is what every ```sh block of README.md a user pastes must
// show, in the README's order, by heading. "Two commands" is not here: it
// is the setup (`make run`) that runTally stands in for.
var walkthrough = []struct {
	heading string
	checks  []check
}{
	{"Try it", []check{
		{cmd: "cloudevents+json", states: `# → {"accepted":1,"duplicates":0}`,
			shows: []string{`(?m)^\{"accepted":1,"duplicates":0\}$`}},
		{cmd: "cloudevents-batch+json", states: `# → {"accepted":1,"duplicates":1}`,
			shows: []string{`(?m)^\{"accepted":1,"duplicates":1\}$`}},
		{cmd: "cloudevents+json", states: "400, per-event errors (data.credits), nothing accepted",
			shows: []string{`"error":"invalid events; nothing was accepted"`, `"id":"evt-2","field":"data.credits"`},
			hides: []string{`"accepted"`}},
		{cmd: "/v1/tenants/tenant-acme/usage", states: "12.5 AI credits, 1 learner seat",
			shows: []string{`"ai_credits":\{"total":"12.5","events":1,`, `"seats":\{"learner":\{"peak":1,"at_end":1\}\}`}},
		{cmd: "emit examples/events.jsonl", states: "accepted 6, duplicates 0, rejected 1 (ex-7 has a JSON number)",
			shows: []string{`(?m)^accepted 6, duplicates 0, rejected 1$`, `(?m)^event 7 rejected: data.credits:`}},
		{cmd: `echo "exit status $?"`, states: ": exit status 1",
			shows: []string{`(?m)^exit status 1$`}},
		{cmd: "usage --tenant tenant-acme", states: "200.5 AI credits; 1 learner, 1 author",
			shows: []string{`ai credits\s+total \(2 events\)\s+200\.5\n`, `learner peak\s+1\n`, `author peak\s+1\n`}},
		{cmd: "usage --tenant prov-ada", states: "one sale: gross 59, tax 9",
			shows: []string{`"marketplace":\{"USD":\{"sales":1,"gross":"59","tax":"9",`}},
	}},
	{"A month of billing", []check{
		{cmd: "emit examples/billing-month.jsonl", states: "accepted 152",
			shows: []string{`(?m)^accepted 152, duplicates 0, rejected 0$`}},
		{cmd: "close --period 2026-10", states: "3 invoices",
			shows: []string{`(?m)^period 2026-10 closed: 3 invoices$`}},
		{cmd: "invoices --period 2026-10", states: "1250.5 × 0.018 = 22.51 | 311.51 |",
			shows: []string{invoice("tenant-team", "monthly", `1250\.5\s+0\.018\s+22\.51`, `subtotal 311\.51`, `total 311\.51 USD`)}},
		{cmd: "invoices --period 2026-10", states: "= 15588.00, annual discount -3117.60 | 12470.40 |",
			shows: []string{invoice("tenant-biz", "upfront", `subtotal 15588\.00`, `discount -3117\.60`, `total 12470\.40 USD`)}},
		{cmd: "invoices --period 2026-10", states: "20 × 6.00 = 120.00, AI overage 5000 × 0.015 = 75.00 | 195.00 |",
			shows: []string{invoice("tenant-biz", "monthly", `20\s+6\s+120\.00`, `5000\s+0\.015\s+75\.00`, `total 195\.00 USD`)}},
		{cmd: "/v1/invoices?tenant=tenant-team&period=2026-10", states: "22.51 | 311.51",
			shows: []string{`"amount":"22\.51"`, `"total":"311\.51"`}, hides: []string{`"tenant":"tenant-biz"`}},
		{cmd: "unbilled --period 2026-10", states: "(none here)",
			shows: []string{`\A\s*TENANT\s+PERIOD\s+METER\s+QUANTITY\s+REASON\s*\z`}},
	}},
	{"Marketplace: revenue share, holds and payouts", []check{
		{cmd: "emit examples/marketplace.jsonl", states: "accepted 8",
			shows: []string{`(?m)^accepted 8, duplicates 0, rejected 0$`}},
		{cmd: "balance --provider prov-ada --as-of 2026-10-10", states: "held 106.25, available 0.00",
			shows: []string{`HELD\s+AVAILABLE\s+PAID\n\s+USD\s+106\.25\s+0\.00\s+0\.00\n`}},
		{cmd: "payouts run --as-of 2026-10-20", states: "ada 106.25 (bob not verified yet)",
			shows: []string{`ran: 1 payouts`, `prov-ada\s+106\.25 USD`}, hides: []string{`prov-bob`}},
		{cmd: "payouts run --as-of 2026-11-01", states: "bob 170.00; ada nothing",
			shows: []string{`ran: 1 payouts`, `prov-bob\s+170\.00 USD`}, hides: []string{`prov-ada`}},
		{cmd: "balance --provider prov-ada --as-of 2026-11-01", states: "held 42.50, available -21.25, paid 106.25",
			shows: []string{`HELD\s+AVAILABLE\s+PAID\n\s+USD\s+42\.50\s+-21\.25\s+106\.25\n`}},
		{cmd: "payouts list --provider prov-ada", states: "the statement: 42.50 - 21.25 + 85.00",
			shows: []string{`prov-ada\s+106\.25 USD`, `sale\s+o-1\s.*\s42\.50\n`, `refund\s+r-1\s.*\s-21\.25\n`, `sale\s+o-2\s.*\s85\.00\n`},
			hides: []string{`prov-bob`}},
		{cmd: "/v1/providers/prov-ada/balance", states: "held 42.50, available -21.25, paid 106.25",
			shows: []string{`"held":"42\.50","available":"-21\.25","paid":"106\.25"`}},
	}},
}

// invoice is a regexp for one invoice of `tally invoices`: its heading
// line (tenant, kind, period 2026-10, not_sent), then lines matching each
// of lines in order, within the invoice (which ends at an empty line).
func invoice(tenant, kind string, lines ...string) string {
	re := tenant + `\s+` + kind + `\s+2026-10\s+not_sent.*\n`
	for _, l := range lines {
		re += `(?:.+\n)*?.*` + l + `.*\n`
	}
	return re
}

// blockTimeout bounds one block; a close or payout run waits for the sink.
const blockTimeout = 5 * time.Minute

// readmeAddr is the API address the README's curl lines use, for `make
// run`'s default --http-addr.
const readmeAddr = "localhost:8080"

// TestREADMEWalkthrough builds tally, starts `tally run` and pastes every
// README block after "Two commands" into one shell, in order, from a
// directory laid out like the repository root: ./bin/tally, examples/,
// and the daemon's data dir as .tally. The CLI finds the daemon through
// TALLY_URL; the curl lines' localhost:8080 becomes the daemon's address.
func TestREADMEWalkthrough(t *testing.T) {
	needCommands(t, "bash", "curl", "jq")
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatalf("reading README.md: %v", err)
	}
	blocks := pastedBlocks(t, string(readme))

	root := t.TempDir()
	if err := tallyproc.Build(repo, filepath.Join(root, "bin", "tally"), "./cmd/tally"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(repo, "examples"), filepath.Join(root, "examples")); err != nil {
		t.Fatal(err)
	}
	chdbLib, err := chlocal.FindLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	base := runTally(t, filepath.Join(root, "bin", "tally"), filepath.Join(root, ".tally"), chdbLib)
	addr := strings.TrimPrefix(base, "http://")

	sh, err := startShell(root, t.TempDir(), append(tallyproc.Env(), "TALLY_URL="+base))
	if err != nil {
		t.Fatal(err)
	}
	defer sh.close()
	for i, b := range blocks {
		text := strings.ReplaceAll(b.text, readmeAddr, addr)
		segs, err := sh.run(text, blockTimeout)
		if err != nil {
			t.Fatalf("README block under %q: %v\n--- the block:\n%s--- its output:\n%s", b.heading, err, b.text, transcript(segs))
		}
		if problems := checkBlock(walkthrough[i].checks, b.section, segs); len(problems) > 0 {
			t.Errorf("README block under %q:\n- %s\n--- the block:\n%s--- its output:\n%s",
				b.heading, strings.Join(problems, "\n- "), b.text, transcript(segs))
		}
	}
}

// pastedBlocks returns the README's ```sh blocks after "Two commands" and
// fails unless they are exactly the ones walkthrough has figures for.
func pastedBlocks(t *testing.T, readme string) []block {
	t.Helper()
	var blocks []block
	for _, b := range shBlocks(readme) {
		if b.heading != "Two commands" {
			blocks = append(blocks, b)
		}
	}
	var got, want []string
	for _, b := range blocks {
		got = append(got, b.heading)
	}
	for _, w := range walkthrough {
		want = append(want, w.heading)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("README's ```sh blocks are under %q; the test has figures for blocks under %q: give each block its checks", got, want)
	}
	for _, b := range blocks {
		for line := range strings.Lines(b.text) {
			if strings.HasPrefix(line, "curl ") && !strings.Contains(line, readmeAddr) {
				t.Fatalf("README block under %q: %q does not call %s, the address the test replaces", b.heading, line, readmeAddr)
			}
		}
	}
	return blocks
}

// checkBlock applies checks to a block's commands and returns what is
// wrong, one line each.
func checkBlock(checks []check, section string, segs []segment) []string {
	var problems []string
	next := 0
	for _, c := range checks {
		if c.states != "" && !strings.Contains(section, c.states) {
			problems = append(problems, fmt.Sprintf("the README no longer states %q: make the test's figures match the README", c.states))
		}
		at := -1
		for i := next; i < len(segs); i++ {
			if strings.Contains(segs[i].cmd, c.cmd) {
				at = i
				break
			}
		}
		if at < 0 {
			problems = append(problems, fmt.Sprintf("no command containing %q ran (after the previous check's)", c.cmd))
			continue
		}
		next = at
		seg := segs[at]
		for _, re := range c.shows {
			if !regexp.MustCompile(re).MatchString(seg.out) {
				problems = append(problems, fmt.Sprintf("`%s` does not show what the README states (%q): want /%s/ in its output",
					seg.cmd, c.states, re))
			}
		}
		for _, re := range c.hides {
			if regexp.MustCompile(re).MatchString(seg.out) {
				problems = append(problems, fmt.Sprintf("`%s` shows /%s/, against what the README states (%q)",
					seg.cmd, re, c.states))
			}
		}
	}
	return problems
}

// TestCheckBlockReportsEachMismatch feeds checkBlock one block's output
// with every kind of mismatch and one check that holds.
func TestCheckBlockReportsEachMismatch(t *testing.T) {
	section := "```sh\n./bin/tally close --period 2026-10   # 3 invoices\n```\n"
	segs := []segment{
		{cmd: "./bin/tally close --period 2026-10", out: "period 2026-10 closed: 0 invoices\n"},
		{cmd: "./bin/tally payouts run --as-of 2026-10-20T00:00:00Z", out: "prov-bob  170.00 USD\n"},
	}
	checks := []check{
		{cmd: "close --period 2026-10", states: "3 invoices", shows: []string{`closed: 3 invoices`}},
		{cmd: "close --period 2026-10", states: "2 invoices"},
		{cmd: "payouts run", hides: []string{`prov-bob`}},
		{cmd: "payouts run", shows: []string{`170\.00 USD`}},
		{cmd: "close --period 2026-10"}, // only from the previous check's command on
	}
	got := checkBlock(checks, section, segs)
	want := []string{
		"does not show what the README states (\"3 invoices\"): want /closed: 3 invoices/",
		"the README no longer states \"2 invoices\"",
		"shows /prov-bob/",
		"no command containing \"close --period 2026-10\" ran",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("problem %d is %q, want it to say %q", i, got[i], want[i])
		}
	}
}
