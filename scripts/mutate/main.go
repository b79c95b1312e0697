// Command mutate is the labs' mutation check (scripts/mutate.sh runs it): it
// breaks the engine one curated way at a time, runs the labs that should
// notice, and reports which lab killed each mutant, or that it SURVIVED.
//
// The mutants are in scripts/mutants.txt: each replaces one exact snippet of
// an engine source file and names the behaviour it breaks and the labs to run.
// A snippet that is not found exactly once stops the check before anything
// runs: the engine changed, and the list must follow it.
//
// The real tree is never written: the repository is copied once into a
// temporary directory, each mutant is applied to the copy's file, the labs'
// test binary is built once per mutant (no -race), only the mutant's labs run,
// and the file is restored before the next. The copy is removed on exit, on
// SIGINT and on SIGTERM too.
//
//	go run ./scripts/mutate [-list scripts/mutants.txt] [-min 95] [-only id,id] [-check]
//
// It exits 1 when the score (mutants killed, in percent) is below -min, and 2
// when the list or the unmutated baseline is broken.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	list := flag.String("list", "scripts/mutants.txt", "the mutants, relative to the repository's root")
	min := flag.Float64("min", 95, "the lowest passing score, in percent of mutants killed")
	only := flag.String("only", "", "comma-separated mutant ids to run (default: all)")
	check := flag.Bool("check", false, "only check that every snippet is found exactly once")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, *list, *min, *only, *check))
}

func run(ctx context.Context, list string, min float64, only string, check bool) int {
	root, err := repoRoot()
	if err != nil {
		return fail(err)
	}
	text, err := os.ReadFile(filepath.Join(root, list))
	if err != nil {
		return fail(err)
	}
	ms, err := Parse(string(text))
	if err != nil {
		return fail(fmt.Errorf("%s: %w", list, err))
	}
	if only != "" {
		ms, err = pick(ms, strings.Split(only, ","))
		if err != nil {
			return fail(err)
		}
	}
	if err := CheckSnippets(root, ms); err != nil {
		return fail(fmt.Errorf("%s is out of date with the engine (fix the snippet, or drop the mutant with its reason):\n%w", list, err))
	}
	if check {
		fmt.Printf("mutate: all %d snippets found\n", len(ms))
		return 0
	}

	tmp, err := os.MkdirTemp("", "nslab-mutate-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	copyDir := filepath.Join(tmp, "src")
	if err := copyTree(root, copyDir); err != nil {
		return fail(fmt.Errorf("copy the repository: %w", err))
	}
	bin := filepath.Join(tmp, "labs.test")
	start := time.Now()

	// The baseline: every lab the list names passes on the unmutated copy,
	// or a kill would mean nothing.
	var all []string
	for _, m := range ms {
		for _, l := range m.Labs {
			if !slices.Contains(all, l) {
				all = append(all, l)
			}
		}
	}
	if err := build(ctx, copyDir, bin); err != nil {
		return fail(fmt.Errorf("build the unmutated labs: %w", err))
	}
	if killer, out, err := runLabs(ctx, copyDir, bin, all, 5*time.Minute); err != nil || killer != "" {
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		return fail(fmt.Errorf("the unmutated engine fails %s; fix that first:\n%s", killer, tail(out, 40)))
	}
	fmt.Printf("mutate: baseline passes (%d labs, %s)\n", len(all), time.Since(start).Round(time.Second))

	killed := 0
	var survivors []string
	for i, m := range ms {
		t0 := time.Now()
		killer, err := mutant(ctx, copyDir, bin, m)
		if ctx.Err() != nil {
			return fail(fmt.Errorf("interrupted at mutant %s: %w", m.ID, ctx.Err()))
		}
		if err != nil {
			return fail(fmt.Errorf("mutant %s: %w", m.ID, err))
		}
		d := time.Since(t0).Round(100 * time.Millisecond)
		if killer != "" {
			killed++
			fmt.Printf("[%2d/%d] killed   %-28s by %s (%s)\n", i+1, len(ms), m.ID, killer, d)
		} else {
			survivors = append(survivors, m.ID)
			fmt.Printf("[%2d/%d] SURVIVED %-28s %s: %s (labs %s) (%s)\n", i+1, len(ms), m.ID, m.File, m.Breaks, strings.Join(m.Labs, " "), d)
		}
	}
	score := 100 * float64(killed) / float64(len(ms))
	fmt.Printf("mutate: %d mutants, %d killed, %d survived: %s\n", len(ms), killed, len(survivors), strings.Join(survivors, " "))
	fmt.Printf("mutate: took %s\n", time.Since(start).Round(time.Second))
	fmt.Printf("mutate: score %.1f%% (minimum %.0f%%)\n", score, min)
	if score < min {
		return 1
	}
	return 0
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "mutate:", err)
	return 2
}

// repoRoot is the directory holding go.mod, from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the repository: no go.mod above the working directory")
		}
		dir = parent
	}
}

func pick(ms []Mutant, ids []string) ([]Mutant, error) {
	var out []Mutant
	for _, id := range ids {
		i := slices.IndexFunc(ms, func(m Mutant) bool { return m.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("no mutant %q in the list", id)
		}
		out = append(out, ms[i])
	}
	return out, nil
}

// mutant applies m to the copy, builds, runs m's labs and restores the file.
// It returns the first lab that failed, or "" if the mutant survived.
func mutant(ctx context.Context, dir, bin string, m Mutant) (string, error) {
	path := filepath.Join(dir, m.File)
	orig, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	mutated, err := m.Apply(string(orig))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(mutated), 0o644); err != nil {
		return "", err
	}
	defer os.WriteFile(path, orig, 0o644)
	if err := build(ctx, dir, bin); err != nil {
		return "", fmt.Errorf("the mutated engine does not build (a mutant must compile): %w", err)
	}
	killer, _, err := runLabs(ctx, dir, bin, m.Labs, labTimeout)
	return killer, err
}

// build compiles the labs' test binary: one build per mutant, without -race,
// and without symbols to keep the link short.
func build(ctx context.Context, dir, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-trimpath", "-ldflags=-s -w", "-o", bin, "./labs")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go test -c ./labs: %w\n%s", err, out.String())
	}
	return nil
}

// labTimeout bounds one mutant's labs. Every lab passes in seconds on the
// unmutated engine; a lab that waits out its own retries for a minute under
// a mutant has noticed it (a published port that no longer answers is
// retried for two), so running out of time counts as a kill.
const labTimeout = 60 * time.Second

// timedOut names the labs still running when the test binary timed out.
var timedOut = regexp.MustCompile(`(?m)^\s+TestLabs/(\S+) \(`)

// failLine is the verbose test output's line for a failed test or lab.
var failLine = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)

// runLabs runs labs (lab names, or top-level test names starting with
// "Test") in parallel, stopping at the first failure. It returns the lab
// that failed, "" when all passed, and the output.
func runLabs(ctx context.Context, dir, bin string, labs []string, timeout time.Duration) (string, string, error) {
	var scripts, tests []string
	for _, l := range labs {
		if strings.HasPrefix(l, "Test") {
			tests = append(tests, regexp.QuoteMeta(l))
		} else {
			scripts = append(scripts, regexp.QuoteMeta(l))
		}
	}
	top := tests
	if len(scripts) > 0 {
		top = append(top, "TestLabs")
	}
	pattern := "^(" + strings.Join(top, "|") + ")$"
	if len(scripts) > 0 {
		pattern += "/^(" + strings.Join(scripts, "|") + ")$"
	}
	// The first failure is enough: the binary is killed then (its lab hosts
	// go with it, as they do when their owner dies), rather than waiting
	// for the other labs, some of which wait out timeouts under a mutant.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(runCtx, bin, "-test.run", pattern, "-test.v", "-test.failfast",
		"-test.parallel", "4", "-test.count", "1", "-test.timeout", timeout.String())
	// The tests read labs/*.txtar and labs/pictures from the working directory.
	cmd.Dir = filepath.Join(dir, "labs")
	cmd.WaitDelay = 10 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var out strings.Builder
	var failed []string
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			// TestLabs fails when one of its labs does; name the lab.
			if m := failLine.FindStringSubmatch(sc.Text()); m != nil && m[1] != "TestLabs" {
				failed = append(failed, strings.TrimPrefix(m[1], "TestLabs/"))
				cancel()
			}
		}
		io.Copy(io.Discard, pr)
	}()
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	pw.Close()
	<-scanned
	if ctx.Err() != nil {
		return "", out.String(), ctx.Err()
	}
	if len(failed) > 0 {
		return strings.Join(failed, ", "), out.String(), nil
	}
	if err == nil {
		return "", out.String(), nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return "", out.String(), err
	}
	if strings.Contains(out.String(), "panic: test timed out") {
		running := timedOut.FindAllStringSubmatch(out.String(), -1)
		var names []string
		for _, m := range running {
			names = append(names, m[1])
		}
		return fmt.Sprintf("a timeout (%s) in %s", timeout, strings.Join(names, ", ")), out.String(), nil
	}
	return "the test binary (" + err.Error() + ", no lab named)", out.String(), nil
}

func tail(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

// copyTree copies the repository at src to dst, without .git.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() && rel == ".git" {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case d.Type().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		}
		return nil
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
