package walkthrough

import (
	"strings"
	"testing"
)

// block is one ```sh block of a Markdown file.
type block struct {
	heading string // the nearest heading above it, without the #s
	text    string // the block's lines, each ending in a newline
	section string // the text from that heading to the next one, block included
}

// shBlocks returns the ```sh blocks of a Markdown document in order, each
// with its heading and the text of its section.
func shBlocks(doc string) []block {
	type section struct {
		heading string
		lines   []string
	}
	var sections []*section
	cur := &section{}
	sections = append(sections, cur)
	var blocks []block
	var body []string
	inBlock, isSh := false, false
	for line := range strings.Lines(doc) {
		bare := strings.TrimRight(line, "\n")
		switch {
		case !inBlock && strings.HasPrefix(bare, "```"):
			inBlock, isSh = true, strings.TrimSpace(strings.TrimPrefix(bare, "```")) == "sh"
			body = body[:0]
		case inBlock && strings.TrimSpace(bare) == "```":
			inBlock = false
			if isSh {
				blocks = append(blocks, block{heading: cur.heading, text: strings.Join(body, "")})
			}
		case inBlock:
			body = append(body, line)
		case strings.HasPrefix(bare, "#"):
			cur = &section{heading: strings.TrimSpace(strings.TrimLeft(bare, "#"))}
			sections = append(sections, cur)
		}
		cur.lines = append(cur.lines, line)
	}
	for i := range blocks {
		for _, s := range sections {
			if s.heading == blocks[i].heading {
				blocks[i].section = strings.Join(s.lines, "")
			}
		}
	}
	return blocks
}

func TestShBlocksKeepsHeadingsAndSections(t *testing.T) {
	doc := "# Title\n\nintro\n\n```sh\nmake run\n```\n\n## Try it\n\n" +
		"```sh\necho one   # 1\necho two\n```\n\nYou read 2.\n\n```go\nfmt.Println()\n```\n\n" +
		"### Next\n\n```sh\necho three\n```\n"
	got := shBlocks(doc)
	want := []block{
		{heading: "Title", text: "make run\n"},
		{heading: "Try it", text: "echo one   # 1\necho two\n"},
		{heading: "Next", text: "echo three\n"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d blocks, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].heading != want[i].heading || got[i].text != want[i].text {
			t.Errorf("block %d: got %q under %q, want %q under %q", i, got[i].text, got[i].heading, want[i].text, want[i].heading)
		}
	}
	if s := got[1].section; !strings.Contains(s, "You read 2.") || strings.Contains(s, "echo three") || strings.Contains(s, "make run") {
		t.Errorf("section of %q is %q: want its own text only", got[1].heading, s)
	}
}
