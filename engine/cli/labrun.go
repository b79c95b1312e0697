package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/nslab/nslab/engine/labhost"
	"github.com/nslab/nslab/labs"
	"github.com/rogpeppe/go-internal/txtar"
)

// player plays a lab phase by phase for a learner: the narration, each
// command, its real output, and a pass or fail for every check, in the
// same script language the tests use (a subset of testscript's: exec,
// stdout, stderr, cp, cmp, stdin, env, with ! and -count=N).
type player struct {
	out      io.Writer
	step     bool
	in       *bufio.Reader
	work     string
	env      []string
	stdin    string
	stdout   string
	stderr   string
	passed   int
	commands int
	hint     string // the exercise's hint for the next command
}

func runLab(l labs.Lab, step bool, out io.Writer) error {
	ar := txtar.Parse([]byte(l.Script))
	work, err := os.MkdirTemp("", "nslab-lab-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	for _, f := range ar.Files {
		if err := os.WriteFile(filepath.Join(work, f.Name), f.Data, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "Lab %s: %s\n", l.Name, l.Title)
	if l.Notes != "" {
		fmt.Fprintf(out, "Reproduces %s.\n", l.Notes)
	}
	fmt.Fprintln(out, "Starting a fresh lab host...")
	h, err := labhost.Start(labhost.Options{Stderr: os.Stderr})
	if err != nil {
		return err
	}
	defer h.Close()
	p := &player{out: out, step: step, in: bufio.NewReader(os.Stdin), work: work,
		env: labhost.InsideEnv(os.Environ(), h.Env())}
	err = p.play(string(ar.Comment))
	fmt.Fprintln(out)
	if err != nil {
		fmt.Fprintf(out, "FAIL: %s stopped after %d checks passed.\n%v\n", l.Name, p.passed, err)
		return exitError{1}
	}
	fmt.Fprintf(out, "PASS: %s: %d commands, %d checks, all as expected.\n", l.Name, p.commands, p.passed)
	return nil
}

func (p *player) play(script string) error {
	inPhase := false
	for i, line := range strings.Split(script, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			inPhase = false
			continue
		}
		if strings.HasPrefix(trimmed, "# hint:") {
			p.hint = strings.TrimSpace(strings.TrimPrefix(trimmed, "#"))
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			if !inPhase {
				fmt.Fprintln(p.out)
				if p.step && p.commands > 0 {
					fmt.Fprint(p.out, "[press Enter for the next step] ")
					p.in.ReadString('\n')
				}
			}
			inPhase = true
			fmt.Fprintf(p.out, "%s\n", strings.TrimSpace(strings.TrimPrefix(trimmed, "#")))
			continue
		}
		inPhase = false
		if err := p.run(trimmed); err != nil {
			if p.hint != "" && !strings.Contains(err.Error(), p.hint) {
				err = fmt.Errorf("%w\n%s", err, p.hint)
			}
			return fmt.Errorf("line %d: %s\n%w", i+1, trimmed, err)
		}
	}
	return nil
}

func (p *player) run(line string) error {
	args, err := splitArgs(line)
	if err != nil {
		return err
	}
	neg := false
	if args[0] == "!" {
		neg, args = true, args[1:]
	}
	switch args[0] {
	case "exec":
		if len(args) == 2 && args[1] == labs.Placeholder {
			msg := "This step is yours: write the command where \"exec ...\" stands."
			if p.hint != "" {
				msg += "\n" + p.hint
			}
			return errors.New(msg)
		}
		return p.exec(neg, args[1:])
	case "stdout", "stderr":
		return p.check(neg, args[0], args[1:])
	case "cp":
		data, err := p.read(args[1])
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(p.work, args[2]), []byte(data), 0o644)
	case "cmp":
		a, err1 := p.read(args[1])
		b, err2 := p.read(args[2])
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		if a != b {
			return fmt.Errorf("expected %s and %s to be the same, but they differ:\n%s\n---\n%s", args[1], args[2], a, b)
		}
		p.pass("%s and %s are the same", args[1], args[2])
		return nil
	case "stdin":
		p.stdin = args[1]
		return nil
	case "env":
		p.env = append(p.env, args[1:]...)
		return nil
	}
	return fmt.Errorf("the lab player does not know the command %q", args[0])
}

func (p *player) read(name string) (string, error) {
	switch name {
	case "stdout":
		return p.stdout, nil
	case "stderr":
		return p.stderr, nil
	}
	b, err := os.ReadFile(filepath.Join(p.work, name))
	return string(b), err
}

func (p *player) exec(neg bool, argv []string) error {
	p.commands++
	fmt.Fprintf(p.out, "\n  $ %s\n", strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	if argv[0] == "nslab" || argv[0] == "docker" {
		// This very binary (argv[0] stays "nslab"), wherever it is.
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		cmd.Path, cmd.Err = exe, nil
	}
	cmd.Dir, cmd.Env = p.work, p.env
	if p.stdin != "" {
		data, err := p.read(p.stdin)
		if err != nil {
			return err
		}
		cmd.Stdin = strings.NewReader(data)
		p.stdin = ""
	}
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	p.stdout, p.stderr = so.String(), se.String()
	for _, s := range []string{p.stdout, p.stderr} {
		for _, l := range strings.SplitAfter(s, "\n") {
			if l != "" {
				fmt.Fprintf(p.out, "    %s", strings.TrimSuffix(l, "\n")+"\n")
			}
		}
	}
	var ee *exec.ExitError
	switch {
	case err != nil && !errors.As(err, &ee):
		return fmt.Errorf("could not run %s: %v", argv[0], err)
	case neg && err == nil:
		return errors.New("expected this command to fail, as the narration says, but it succeeded")
	case !neg && err != nil:
		return fmt.Errorf("expected this command to succeed, but it failed with exit status %d", ee.ExitCode())
	case neg:
		p.pass("the command failed, as expected (exit status %d)", ee.ExitCode())
	}
	return nil
}

func (p *player) check(neg bool, stream string, args []string) error {
	count := -1
	if strings.HasPrefix(args[0], "-count=") {
		n, err := strconv.Atoi(strings.TrimPrefix(args[0], "-count="))
		if err != nil {
			return err
		}
		count, args = n, args[1:]
	}
	re, err := regexp.Compile("(?m)" + args[0])
	if err != nil {
		return err
	}
	text := p.stdout
	if stream == "stderr" {
		text = p.stderr
	}
	n := len(re.FindAllString(text, -1))
	where := "the output"
	if stream == "stderr" {
		where = "the error output"
	}
	switch {
	case neg && n > 0:
		return fmt.Errorf("expected %s NOT to show %s, but it does:\n    %s", where, args[0], re.FindString(text))
	case neg:
		p.pass("%s does not show %s", where, args[0])
	case count >= 0 && n != count:
		return fmt.Errorf("expected %s to show %s exactly %d times; it shows it %d times", where, args[0], count, n)
	case n == 0:
		return fmt.Errorf("expected %s to show %s, but it does not. What it shows is above", where, args[0])
	default:
		p.pass("%s shows %s", where, args[0])
	}
	return nil
}

func (p *player) pass(format string, a ...any) {
	p.passed++
	fmt.Fprintf(p.out, "  ok: %s\n", fmt.Sprintf(format, a...))
}

// splitArgs splits a script line into words as testscript does: spaces
// separate words, single quotes group, and ” inside quotes is a quote.
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
		case !quoted && (c == ' ' || c == '\t'):
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
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		args = append(args, cur.String())
	}
	if len(args) == 0 {
		return nil, errors.New("empty line")
	}
	return args, nil
}
