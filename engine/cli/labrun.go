package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/nslab/nslab/labs"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"
)

// The lab player plays a lab for a learner through testscript itself, with
// labs.Params, the configuration `go test` uses: every command, condition
// and option of the tests works here as there. testscript's own commands
// cannot be replaced, so the player narrates through hooks of its own: each
// command line of the script is played as
//
//	nslab-line N      the narration before line N (and a note if the line before was skipped)
//	[cond] nslab-cmd N   "$ command", for exec lines; refuses a blank left in an exercise
//	[cond] <line N, unchanged>
//	[cond] nslab-ok N    its real output, and "ok: ..." for each check that passed
//
// with line N's own conditions on the last three, so a skipped line shows
// as skipped. A check that fails stops testscript, and the player explains
// the failure from testscript's log: what was expected, what was seen.
type player struct {
	out   io.Writer
	step  bool
	in    *bufio.Reader
	lines []scriptLine // the script's lines, 1-based: lines[0] is unused

	mu       sync.Mutex // the fields below, which the hooks write
	shown    int        // the last line whose narration is printed
	inPhase  bool
	ran      map[int]bool // command lines whose conditions held
	current  int          // the command line being played
	commands int
	passed   int
}

// scriptLine is one line of a script's comment section.
type scriptLine struct {
	raw   string // as written
	text  string // as written, trimmed
	kind  lineKind
	conds []string // leading [cond] words of a command
	neg   bool     // the command has !
	args  []string // the command and its arguments, quotes removed, no $ expansion
	hint  string   // for a command: the exercise's hint that applies to it
}

type lineKind int

const (
	blankLine lineKind = iota
	commentLine
	hintLine
	commandLine
)

// parseScript splits a script's comment section into lines. A hint ("#
// hint: ...", in exercises) applies to the next exec and to the checks
// after it.
func parseScript(comment string) []scriptLine {
	raw := strings.Split(strings.TrimSuffix(comment, "\n"), "\n")
	out := make([]scriptLine, 1, len(raw)+1)
	hint, hintUsed := "", false
	for _, line := range raw {
		l := scriptLine{raw: line, text: strings.TrimSpace(line)}
		switch {
		case l.text == "":
			l.kind = blankLine
		case strings.HasPrefix(l.text, "# hint:"):
			l.kind = hintLine
			hint, hintUsed = strings.TrimSpace(strings.TrimPrefix(l.text, "#")), false
		case strings.HasPrefix(l.text, "#"):
			l.kind = commentLine
		default:
			l.kind = commandLine
			words, _ := splitArgs(l.text)
			for len(words) > 0 && strings.HasPrefix(words[0], "[") && strings.HasSuffix(words[0], "]") {
				l.conds, words = append(l.conds, words[0]), words[1:]
			}
			if len(words) > 0 && words[0] == "!" {
				l.neg, words = true, words[1:]
			}
			l.args = words
			if l.cmd() == "exec" {
				if hintUsed {
					hint = ""
				}
				hintUsed = true
			}
			l.hint = hint
		}
		out = append(out, l)
	}
	return out
}

func (l scriptLine) cmd() string {
	if len(l.args) == 0 {
		return ""
	}
	return l.args[0]
}

// background reports whether an exec line starts a background command.
func (l scriptLine) background() bool {
	return l.cmd() == "exec" && len(l.args) > 1 && strings.HasPrefix(l.args[len(l.args)-1], "&")
}

// isCheck reports whether a line checks something when it passes.
func (l scriptLine) isCheck() bool {
	switch l.cmd() {
	case "stdout", "stderr", "grep", "cmp", "cmpenv", "exists":
		return true
	case "exec":
		return l.neg && !l.background()
	}
	return false
}

// instrument returns the script's comment section with the player's hooks
// around every command line.
func instrument(lines []scriptLine) string {
	var b strings.Builder
	for i := 1; i < len(lines); i++ {
		l := lines[i]
		if l.kind != commandLine {
			b.WriteString(l.raw + "\n")
			continue
		}
		conds := strings.Join(l.conds, " ")
		if conds != "" {
			conds += " "
		}
		fmt.Fprintf(&b, "nslab-line %d\n%snslab-cmd %d\n%s\n%snslab-ok %d\n", i, conds, i, l.raw, conds, i)
	}
	b.WriteString("nslab-end\n")
	return b.String()
}

// hooks are the player's commands for testscript.
func (p *player) hooks() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	lineArg := func(ts *testscript.TestScript, args []string) int {
		n, err := strconv.Atoi(args[0])
		if err != nil || n <= 0 || n >= len(p.lines) {
			ts.Fatalf("nslab player: bad line %q", args[0])
		}
		return n
	}
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"nslab-line": func(ts *testscript.TestScript, neg bool, args []string) {
			n := lineArg(ts, args)
			p.mu.Lock()
			defer p.mu.Unlock()
			p.narrate(n)
		},
		"nslab-cmd": func(ts *testscript.TestScript, neg bool, args []string) {
			n := lineArg(ts, args)
			p.mu.Lock()
			defer p.mu.Unlock()
			l := p.lines[n]
			p.ran[n], p.current = true, n
			if l.cmd() != "exec" {
				return
			}
			if len(l.args) == 2 && l.args[1] == labs.Placeholder {
				msg := "This step is yours: write the command where \"exec ...\" stands."
				if l.hint != "" {
					msg += "\n" + l.hint
				}
				ts.Fatalf("%s", msg)
			}
			p.commands++
			fmt.Fprintf(p.out, "\n  $ %s\n", commandText(l))
		},
		"nslab-ok": func(ts *testscript.TestScript, neg bool, args []string) {
			n := lineArg(ts, args)
			p.mu.Lock()
			defer p.mu.Unlock()
			l := p.lines[n]
			if (l.cmd() == "exec" && !l.background()) || l.cmd() == "wait" {
				p.showOutput(ts.ReadFile("stdout"), ts.ReadFile("stderr"))
			}
			if l.isCheck() {
				p.passed++
				fmt.Fprintf(p.out, "  ok: %s\n", okText(l))
			}
		},
		"nslab-end": func(ts *testscript.TestScript, neg bool, args []string) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.narrate(len(p.lines))
		},
	}
}

// narrate prints the narration up to line n (not included), and a note for
// a command whose conditions did not hold.
func (p *player) narrate(n int) {
	for i := p.shown + 1; i < n; i++ {
		l := p.lines[i]
		switch l.kind {
		case blankLine:
			p.inPhase = false
		case commandLine:
			p.inPhase = false
			if !p.ran[i] && l.cmd() == "exec" {
				fmt.Fprintf(p.out, "\n  skipped, because %s: %s\n", unmet(l.conds), commandText(l))
			}
		case commentLine:
			if !p.inPhase {
				fmt.Fprintln(p.out)
				if p.step && p.commands > 0 {
					fmt.Fprint(p.out, "[press Enter for the next step] ")
					p.in.ReadString('\n')
				}
			}
			p.inPhase = true
			fmt.Fprintln(p.out, strings.TrimSpace(strings.TrimPrefix(l.text, "#")))
		}
	}
	if n-1 > p.shown {
		p.shown = n - 1
	}
}

// unmet says in words why a line's conditions kept it from running.
func unmet(conds []string) string {
	var why []string
	for _, c := range conds {
		c = strings.TrimSpace(strings.Trim(c, "[]"))
		switch {
		case strings.HasPrefix(c, "exec:"):
			why = append(why, strings.TrimPrefix(c, "exec:")+" is not installed")
		case strings.HasPrefix(c, "!exec:"):
			why = append(why, strings.TrimPrefix(c, "!exec:")+" is installed")
		default:
			why = append(why, "["+c+"] does not hold")
		}
	}
	return strings.Join(why, " or ") + " here"
}

func (p *player) showOutput(stdout, stderr string) {
	for _, s := range []string{stdout, stderr} {
		for _, line := range strings.SplitAfter(s, "\n") {
			if line != "" {
				fmt.Fprintf(p.out, "    %s\n", strings.TrimSuffix(line, "\n"))
			}
		}
	}
}

// commandText is an exec line's command as the learner would type it.
func commandText(l scriptLine) string {
	if l.cmd() != "exec" {
		return strings.Join(l.args, " ")
	}
	// The line as written, after "exec": its quoting shows where an
	// argument has spaces.
	t := l.text
	for _, c := range l.conds {
		t = strings.TrimSpace(strings.TrimPrefix(t, c))
	}
	t = strings.TrimSpace(strings.TrimPrefix(t, "!"))
	return strings.TrimSpace(strings.TrimPrefix(t, "exec"))
}

// where names what a check reads, in words.
func where(name string) string {
	switch name {
	case "stdout":
		return "the output"
	case "stderr":
		return "the error output"
	}
	return name
}

func okText(l scriptLine) string {
	args := l.args[1:]
	count := ""
	if len(args) > 0 && strings.HasPrefix(args[0], "-count=") {
		count, args = strings.TrimPrefix(args[0], "-count="), args[1:]
	}
	if len(args) == 0 {
		return l.text
	}
	switch l.cmd() {
	case "stdout", "stderr", "grep":
		subject := where(l.cmd())
		if l.cmd() == "grep" && len(args) > 1 {
			subject = args[1]
		}
		switch {
		case l.neg && args[0] == ".":
			return subject + " is empty"
		case l.neg:
			return fmt.Sprintf("%s does not show %s", subject, args[0])
		case count != "":
			return fmt.Sprintf("%s shows %s exactly %s times", subject, args[0], count)
		}
		return fmt.Sprintf("%s shows %s", subject, args[0])
	case "cmp", "cmpenv":
		if len(args) < 2 {
			return l.text
		}
		if l.neg {
			return fmt.Sprintf("%s and %s differ", where(args[0]), where(args[1]))
		}
		return fmt.Sprintf("%s and %s are the same", where(args[0]), where(args[1]))
	case "exists":
		if l.neg {
			return strings.Join(args, ", ") + " does not exist"
		}
		return strings.Join(args, ", ") + " exists"
	case "exec":
		return "the command failed, as expected"
	}
	return l.text
}

// playT runs testscript outside `go test`: Run runs a script on its own
// goroutine, and a failure ends that goroutine as testing.T's does.
type playT struct {
	mu      sync.Mutex
	log     strings.Builder
	failed  bool
	skipped string
	nodes   int // the script's "# nodes: N": its sandbox's nodes
}

// Nodes tells labs.Params how many nodes the script's sandbox has.
func (t *playT) Nodes() int { return t.nodes }

func (t *playT) Skip(args ...any) {
	t.mu.Lock()
	t.skipped = fmt.Sprint(args...)
	t.mu.Unlock()
	runtime.Goexit()
}

func (t *playT) Fatal(args ...any) {
	t.Log(args...)
	t.FailNow()
}

func (t *playT) FailNow() {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	runtime.Goexit()
}

func (t *playT) Log(args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintln(&t.log, args...)
}

func (t *playT) Parallel()     {}
func (t *playT) Verbose() bool { return false }

func (t *playT) Run(name string, f func(testscript.T)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(t)
	}()
	<-done
}

// runLab plays l in a fresh lab host: the narration, each command with its
// real output, ok for every check that passes. The narration goes to out;
// a failure, said in words (what was expected, what was seen), goes to
// errOut, and the result is a non-zero exit.
func runLab(l labs.Lab, step bool, out, errOut io.Writer) error {
	ar := txtar.Parse([]byte(l.Script))
	lines := parseScript(string(ar.Comment))

	sweepWorkDirs()
	root, unlock, err := newWorkDir()
	if err != nil {
		return err
	}
	defer unlock()
	var script struct {
		sync.Mutex
		s *labs.Script
	}
	stopSignals := onSignal(func() {
		script.Lock()
		s := script.s
		script.Unlock()
		if s != nil {
			s.Close()
		}
		os.RemoveAll(root)
	})
	defer stopSignals()
	defer os.RemoveAll(root)

	// testscript names the script after its file, and runs it in
	// ROOT/script-NAME; ROOT/bin holds nslab and its docker alias.
	file := filepath.Join(root, l.Name+".txtar")
	ar.Comment = []byte(instrument(lines))
	if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
		return fmt.Errorf("write the lab's script: %w", err)
	}
	bin := filepath.Join(root, "bin")
	if err := linkSelf(bin); err != nil {
		return err
	}

	fmt.Fprintf(out, "Lab %s: %s\n", l.Name, l.Title)
	if l.Notes != "" {
		fmt.Fprintf(out, "Reproduces %s.\n", l.Notes)
	}
	fmt.Fprintln(out, "Starting a fresh lab host...")
	p := &player{out: out, step: step, in: bufio.NewReader(os.Stdin), lines: lines, ran: map[int]bool{}}
	params := labs.Params()
	params.Dir, params.Files, params.WorkdirRoot = "", []string{file}, root
	params.UpdateScripts = false
	params.Cmds = p.hooks()
	setup := params.Setup
	params.Setup = func(env *testscript.Env) error {
		if err := setup(env); err != nil {
			return err
		}
		script.Lock()
		script.s = labs.ScriptOf(env)
		script.Unlock()
		env.Setenv("PATH", bin+string(os.PathListSeparator)+env.Getenv("PATH"))
		return nil
	}
	t := &playT{nodes: l.Nodes}
	done := make(chan struct{})
	go func() {
		defer close(done)
		testscript.RunT(t, params)
	}()
	<-done
	os.RemoveAll(root)
	stopSignals()

	p.mu.Lock()
	defer p.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintln(out)
	switch {
	case t.failed:
		reason := p.explain(t.log.String(), file)
		if p.current == 0 {
			fmt.Fprintf(errOut, "FAIL: %s could not start: %s\n", l.Name, reason)
			return exitError{1}
		}
		fmt.Fprintf(errOut, "FAIL: %s stopped after %d checks passed.\n%s\n", l.Name, p.passed, reason)
		return exitError{1}
	case t.skipped != "":
		fmt.Fprintf(out, "SKIP: %s: %s\n", l.Name, t.skipped)
		return nil
	}
	fmt.Fprintf(out, "PASS: %s: %d commands, %d checks, all as expected.\n", l.Name, p.commands, p.passed)
	return nil
}

// linkSelf makes dir hold nslab and docker, both this very binary.
func linkSelf(dir string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find nslab's own binary: %w", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"nslab", "docker"} {
		if err := os.Symlink(exe, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("link %s for the lab: %w", name, err)
		}
	}
	return nil
}

var (
	quoted       = "(`[^`]*`|\"(?:[^\"\\\\]|\\\\.)*\")"
	noMatchRe    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^no match for ` + quoted + ` found in (.+)$`) })
	unexpMatchRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?s)^unexpected match for ` + quoted + ` found in (.+?): (.*)$`)
	})
	countRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^have (\d+) matches for ` + quoted + `, want (\d+)$`)
	})
	differRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\S+) and (\S+) differ$`) })
	sameRe   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\S+) and (\S+) do not differ$`) })
	exitRe   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\[(.+)\]$`) })
)

func unquote(s string) string {
	if u, err := strconv.Unquote(s); err == nil {
		return u
	}
	return s
}

// explain turns testscript's log of a failed script into the player's
// words: it prints what the failing command showed (to the narration) and
// returns which line failed and why.
func (p *player) explain(log, file string) string {
	// The failure is the log's last "FAIL: FILE:N: message".
	msg := ""
	i := strings.LastIndex(log, "FAIL: "+file+":")
	if i >= 0 {
		rest := log[i+len("FAIL: "+file+":"):]
		if _, m, ok := strings.Cut(rest, ": "); ok {
			msg = strings.TrimSpace(m)
		}
	} else {
		msg = strings.TrimSpace(log)
	}
	if p.current == 0 {
		return msg // before the first command: the lab host, or the script's files
	}
	l := p.lines[p.current]
	// What testscript logged between the failing line and the failure:
	// the command's output and exit status, a diff, a file's content.
	var detail string
	if j := strings.LastIndex(log[:max(i, 0)], "> "+l.raw+"\n"); j >= 0 {
		detail = log[j+len("> "+l.raw+"\n") : i]
	}
	var status string
	var stdout, stderr, other strings.Builder
	cur := &other
	for _, line := range strings.SplitAfter(detail, "\n") {
		switch t := strings.TrimSuffix(line, "\n"); {
		case t == "[stdout]":
			cur = &stdout
		case t == "[stderr]":
			cur = &stderr
		case exitRe().MatchString(t) && (strings.HasPrefix(t, "[exit status") || strings.HasPrefix(t, "[signal") || strings.HasPrefix(t, "[exec") || strings.HasPrefix(t, "[fork")):
			status = exitRe().FindStringSubmatch(t)[1]
		default:
			cur.WriteString(line)
		}
	}
	if l.cmd() == "exec" && !p.ran[p.current] {
		// nslab-cmd itself refused: a blank of an exercise.
		return fmt.Sprintf("line %d: %s\n%s", p.current, l.text, msg)
	}
	if l.cmd() == "exec" || l.cmd() == "wait" {
		p.showOutput(stdout.String(), stderr.String())
	}
	var why string
	switch m := msg; {
	case m == "unexpected command failure" && strings.HasPrefix(status, "exit status "):
		why = "expected this command to succeed, but it failed with " + status
	case m == "unexpected command failure" && status != "":
		why = "expected this command to succeed, but it failed: " + status
	case m == "unexpected command success":
		why = "expected this command to fail, as the narration says, but it succeeded"
	case noMatchRe().MatchString(m):
		s := noMatchRe().FindStringSubmatch(m)
		why = fmt.Sprintf("expected %s to show %s, but it does not.", where(s[2]), unquote(s[1]))
		if s[2] == "stdout" || s[2] == "stderr" {
			why += " What it shows is above"
		} else if other.Len() > 0 {
			why += " It holds:\n" + indent(other.String())
		}
	case unexpMatchRe().MatchString(m):
		s := unexpMatchRe().FindStringSubmatch(m)
		why = fmt.Sprintf("expected %s NOT to show %s, but it does:\n    %s", where(s[2]), unquote(s[1]), s[3])
	case countRe().MatchString(m):
		s := countRe().FindStringSubmatch(m)
		why = fmt.Sprintf("expected %s to show %s exactly %s times; it shows it %s times", where(l.cmd()), unquote(s[2]), s[3], s[1])
	case differRe().MatchString(m):
		s := differRe().FindStringSubmatch(m)
		why = fmt.Sprintf("expected %s and %s to be the same, but they differ:\n%s", where(s[1]), where(s[2]), indent(other.String()))
	case sameRe().MatchString(m):
		s := sameRe().FindStringSubmatch(m)
		why = fmt.Sprintf("expected %s and %s to differ, but they are the same", where(s[1]), where(s[2]))
	default:
		why = m
	}
	if l.hint != "" && !strings.Contains(why, l.hint) {
		why += "\n" + l.hint
	}
	return fmt.Sprintf("line %d: %s\n%s", p.current, l.text, why)
}

func indent(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// splitArgs splits a script line into words as testscript does: spaces
// separate words, single quotes group, and ” inside quotes is a quote.
// Unlike testscript it does not expand $VARIABLES: the player shows the
// line as written.
func splitArgs(line string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\'' && i+1 < len(line) && line[i+1] == '\'':
			cur.WriteByte('\'')
			i++
		case c == '\'':
			quoted = !quoted
			inWord = true
		case !quoted && c == '#':
			i = len(line) // testscript: an unquoted # starts a comment
		case !quoted && (c == ' ' || c == '\t' || c == '\r'):
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}
