package labs_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nslab/nslab/labs"
)

// TestIndex checks that README.md, the index of the labs, matches their
// headers. NSLAB_UPDATE=1 rewrites it.
func TestIndex(t *testing.T) {
	want := labs.Index()
	if os.Getenv("NSLAB_UPDATE") != "" {
		if err := os.WriteFile("README.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("README.md")
	if err != nil || string(got) != want {
		t.Fatalf("labs/README.md is stale: run `NSLAB_UPDATE=1 go test ./labs -run TestIndex` and commit it")
	}
	for _, l := range labs.All() {
		if l.Title == "" || l.Teaches == "" {
			t.Errorf("%s.txtar: its header needs a \"# Lab: TITLE\" line and a line or more on what it teaches", l.Name)
		}
	}
}

// TestLabList checks that `nslab lab list` names every lab with its title.
func TestLabList(t *testing.T) {
	out, err := exec.Command("nslab", "lab", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("nslab lab list: %v\n%s", err, out)
	}
	for _, l := range labs.All() {
		if !strings.Contains(string(out), l.Name) || !strings.Contains(string(out), l.Title) {
			t.Errorf("nslab lab list does not show %s (%q):\n%s", l.Name, l.Title, out)
		}
	}
}
