package main

import (
	"os"
	"strings"
	"testing"
)

// TestListCurrent fails as soon as an engine change moves a mutant's snippet,
// in the ordinary test run rather than only when scripts/mutate.sh runs.
func TestListCurrent(t *testing.T) {
	text, err := os.ReadFile("../mutants.txt")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Parse(string(text))
	if err != nil {
		t.Fatalf("scripts/mutants.txt: %v", err)
	}
	if err := CheckSnippets("../..", ms); err != nil {
		t.Errorf("scripts/mutants.txt is out of date with the engine:\n%v", err)
	}
}

func TestApplyNeedsExactlyOne(t *testing.T) {
	m := Mutant{ID: "x", File: "f.go", Find: "a := 1", Replace: "a := 2"}
	if got, err := m.Apply("b\na := 1\n"); err != nil || got != "b\na := 2\n" {
		t.Errorf("Apply once = %q, %v", got, err)
	}
	for _, src := range []string{"b := 1\n", "a := 1\na := 1\n"} {
		if _, err := m.Apply(src); err == nil || !strings.Contains(err.Error(), "f.go") {
			t.Errorf("Apply(%q) = %v, want an error naming f.go", src, err)
		}
	}
}

func TestParseRefusesBadEntries(t *testing.T) {
	ok := "id: a\nfile: f.go\nfind: x\nreplace: y\nbreaks: b\nlabs: l\n"
	if ms, err := Parse(ok); err != nil || len(ms) != 1 || ms[0].Replace != "y" {
		t.Fatalf("Parse(ok) = %+v, %v", ms, err)
	}
	if ms, err := Parse("id: a\nfile: f.go\nfindq: \"\\tx\\n\"\nreplace:\nbreaks: b\nlabs: l\n"); err != nil || ms[0].Find != "\tx\n" || ms[0].Replace != "" {
		t.Fatalf("Parse(findq) = %+v, %v", ms, err)
	}
	for name, text := range map[string]string{
		"no labs":     "id: a\nfile: f.go\nfind: x\nreplace: y\nbreaks: b\n",
		"same":        "id: a\nfile: f.go\nfind: x\nreplace: x\nbreaks: b\nlabs: l\n",
		"twice":       ok + "\n" + ok,
		"unknown key": ok + "color: red\n",
		"bad findq":   "id: a\nfile: f.go\nfindq: x\nreplace: y\nbreaks: b\nlabs: l\n",
		"outside":     "id: a\nfile: ../f.go\nfind: x\nreplace: y\nbreaks: b\nlabs: l\n",
	} {
		if _, err := Parse(text); err == nil {
			t.Errorf("%s: Parse accepted it", name)
		}
	}
}
