// Command mutate is the labs' mutation check (scripts/mutate.sh runs it): it
// breaks the engine one curated way at a time, runs the labs that should
// notice, and reports which lab killed each mutant, or that it SURVIVED.
//
// The mutants are in scripts/mutants.txt: each replaces one exact snippet of
// an engine source file and names the behaviour it breaks and the labs to run.
// A snippet that is not found exactly once stops the check before anything
// runs: the engine changed, and the list must follow it.
//
// The real tree is never written: the repository is copied into a temporary
// directory once per worker, each mutant is applied to its worker's copy,
// the labs' test binary is built once per mutant (no -race), only the
// mutant's labs run, and the file is restored before the worker's next.
// Three mutants (mutantWorkers) run side by side on two cores: a lab
// mostly waits on the kernel, on pings that must time out and on its own
// readiness checks, and one mutant's build fills that time for another.
// The copies are removed on exit, on SIGINT and on SIGTERM too.
//
//	go run ./scripts/mutate [-list scripts/mutants.txt] [-min 95] [-only id,id] [-check] [-baseline=false]
//
// -baseline=false skips the baseline run of the unmutated labs: for a
// caller that has just run every lab on the same tree, and would have
// stopped had one failed (.ci/run, after scripts/test.sh).
//
// It exits 1 when the score (mutants killed, in percent) is below -min, and 2
// when the list or the unmutated baseline is broken.
package main

import (
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
	baseline := flag.Bool("baseline", true, "first run the mutants' labs on the unmutated engine (false: the caller has just run them all)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, *list, *min, *only, *check, *baseline))
}

func run(ctx context.Context, list string, min float64, only string, check, baseline bool) int {
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
	type worker struct{ dir, bin string }
	var workers []worker
	for i := 0; i < mutantWorkers; i++ {
		w := worker{filepath.Join(tmp, fmt.Sprintf("src%d", i)), filepath.Join(tmp, fmt.Sprintf("labs%d.test", i))}
		if err := copyTree(root, w.dir); err != nil {
			return fail(fmt.Errorf("copy the repository: %w", err))
		}
		workers = append(workers, w)
	}
	copyDir, bin := workers[0].dir, workers[0].bin
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
	if !baseline {
		fmt.Printf("mutate: baseline skipped (-baseline=false: the caller ran these %d labs)\n", len(all))
	} else {
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
	}

	type result struct {
		i      int
		killer string
		err    error
		took   time.Duration
	}
	next := make(chan int)
	results := make(chan result)
	for _, w := range workers {
		go func() {
			for i := range next {
				t0 := time.Now()
				killer, err := mutant(ctx, w.dir, w.bin, ms[i])
				results <- result{i, killer, err, time.Since(t0).Round(100 * time.Millisecond)}
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range ms {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	killed, done := 0, 0
	var survivors []string
	var firstErr error
	for done < len(ms) {
		var r result
		select {
		case r = <-results:
		case <-ctx.Done():
			return fail(fmt.Errorf("interrupted after %d mutants: %w", done, ctx.Err()))
		}
		done++
		m := ms[r.i]
		switch {
		case r.err != nil:
			if firstErr == nil {
				firstErr = fmt.Errorf("mutant %s: %w", m.ID, r.err)
			}
		case r.killer != "":
			killed++
			fmt.Printf("[%2d/%d] killed   %-28s by %s (%s)\n", done, len(ms), m.ID, r.killer, r.took)
		default:
			survivors = append(survivors, m.ID)
			fmt.Printf("[%2d/%d] SURVIVED %-28s %s: %s (labs %s) (%s)\n", done, len(ms), m.ID, m.File, m.Breaks, strings.Join(m.Labs, " "), r.took)
		}
	}
	if firstErr != nil {
		return fail(firstErr)
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

// build compiles the labs' test binary and nslab-shim (engine/shim): one
// build of each per mutant, without -race, and without symbols to keep the
// links short. Without cgo they are static, and each of the labs' many
// starts of them is faster. The labs' TestMain would build nslab-shim
// itself in every test process, and a mutant runs one process per lab.
func build(ctx context.Context, dir, bin string) error {
	for _, argv := range [][]string{
		{"go", "test", "-c", "-trimpath", "-ldflags=-s -w", "-o", bin, "./labs"},
		{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", shimPath(bin), "./engine/cmd/nslab-shim"},
	} {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(argv[:2], " ")+" "+argv[len(argv)-1], err, out.String())
		}
	}
	return nil
}

// shimPath is where build puts the nslab-shim that goes with test binary bin.
func shimPath(bin string) string {
	return filepath.Join(strings.TrimSuffix(bin, ".test")+"-shim", "nslab-shim")
}

// labTimeout bounds each of a mutant's labs. Every lab passes in seconds on the
// unmutated engine; a lab that waits out its own retries for a minute under
// a mutant has noticed it (a published port that no longer answers is
// retried for two), so running out of time counts as a kill.
const labTimeout = 60 * time.Second

// parallel is how many lab processes one mutant runs at once, and
// mutantWorkers how many mutants run at once (each in its own copy). With
// 24 of the mutants on a 2-core VM (2026-11-25), two workers took 41-45 s,
// three 31-35 s and four 32-34 s: the check was only about 80% CPU-bound
// with two.
const (
	parallel      = 4
	mutantWorkers = 3
)

// runLabs runs labs (lab names, or top-level test names starting with
// "Test"), each in a test process of its own, a few at a time. The first
// failure is enough: the other processes are killed then (their lab hosts
// go with them, as they do when their owner dies) rather than left to wait
// out their retries. It returns the lab that failed, "" when all passed,
// and the output.
func runLabs(ctx context.Context, dir, bin string, labs []string, timeout time.Duration) (string, string, error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		lab, out string
		err      error
	}
	results := make(chan result, len(labs))
	sem := make(chan struct{}, parallel)
	for _, l := range labs {
		go func() {
			select {
			case sem <- struct{}{}:
			case <-runCtx.Done():
				results <- result{l, "", runCtx.Err()}
				return
			}
			defer func() { <-sem }()
			out, err := runLab(runCtx, dir, bin, l, timeout)
			results <- result{l, out, err}
		}()
	}
	var failed []string
	var outs strings.Builder
	var runErr error
	stopped := false
	for range labs {
		r := <-results
		outs.WriteString(r.out)
		if r.err == nil || stopped || ctx.Err() != nil {
			continue
		}
		stopped = true
		cancel()
		var ee *exec.ExitError
		if !errors.As(r.err, &ee) {
			runErr = fmt.Errorf("run %s: %w", r.lab, r.err)
			continue
		}
		if strings.Contains(r.out, "panic: test timed out") {
			failed = append(failed, fmt.Sprintf("%s (a timeout, %s)", r.lab, timeout))
		} else {
			failed = append(failed, r.lab)
		}
	}
	if ctx.Err() != nil {
		return "", outs.String(), ctx.Err()
	}
	if runErr != nil {
		return "", outs.String(), runErr
	}
	return strings.Join(failed, ", "), outs.String(), nil
}

// runLab runs one lab, or one top-level test, in a test process.
func runLab(ctx context.Context, dir, bin, lab string, timeout time.Duration) (string, error) {
	pattern := "^TestLabs$/^" + regexp.QuoteMeta(lab) + "$"
	if strings.HasPrefix(lab, "Test") {
		pattern = "^" + regexp.QuoteMeta(lab) + "$"
	}
	cmd := exec.CommandContext(ctx, bin, "-test.run", pattern, "-test.count", "1", "-test.timeout", timeout.String())
	// The tests read labs/*.txtar and labs/pictures from the working directory.
	cmd.Dir = filepath.Join(dir, "labs")
	// The labs' TestMain takes this nslab-shim instead of building one.
	cmd.Env = append(os.Environ(), "NSLAB_TEST_SHIM="+shimPath(bin))
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil && bytes.Contains(out.Bytes(), []byte("no tests to run")) {
		err = fmt.Errorf("no test of package labs is called %s", lab)
	}
	return fmt.Sprintf("=== %s\n%s", lab, out.String()), err
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
