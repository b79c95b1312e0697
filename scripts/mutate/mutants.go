package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Mutant is one curated break of the engine.
type Mutant struct {
	ID      string
	File    string   // relative to the repository's root
	Find    string   // an exact snippet that occurs once in File
	Replace string   // what it becomes
	Breaks  string   // the behaviour of the notes or Docker that it breaks
	Labs    []string // the labs (or top-level tests, Test...) that should fail
	Line    int      // where the entry starts in the list
}

var idRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Parse reads the list: entries of "key: value" lines separated by blank
// lines, with # comments. Values are taken as written; findq and replaceq
// take a Go string literal instead, for tabs, newlines or leading spaces.
// replace may be empty: the snippet is deleted.
func Parse(text string) ([]Mutant, error) {
	var ms []Mutant
	var cur *Mutant
	seen := map[string]bool{}
	has := map[string]bool{}
	finish := func() error {
		if cur == nil {
			return nil
		}
		for _, k := range []string{"id", "file", "find", "replace", "breaks", "labs"} {
			if !has[k] {
				return fmt.Errorf("line %d: mutant %q has no %s", cur.Line, cur.ID, k)
			}
		}
		if cur.Find == cur.Replace {
			return fmt.Errorf("line %d: mutant %s replaces its snippet with itself", cur.Line, cur.ID)
		}
		if seen[cur.ID] {
			return fmt.Errorf("line %d: mutant id %s is used twice", cur.Line, cur.ID)
		}
		seen[cur.ID] = true
		ms = append(ms, *cur)
		cur, has = nil, map[string]bool{}
		return nil
	}
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.TrimSpace(line) == "" {
			if err := finish(); err != nil {
				return nil, err
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: want \"key: value\", got %q", n, line)
		}
		v = strings.TrimPrefix(v, " ")
		if cur == nil {
			cur = &Mutant{Line: n}
		}
		if k == "findq" || k == "replaceq" {
			u, err := strconv.Unquote(v)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s wants a Go string literal, got %s: %w", n, k, v, err)
			}
			k, v = strings.TrimSuffix(k, "q"), u
		}
		if has[k] {
			return nil, fmt.Errorf("line %d: %s given twice", n, k)
		}
		has[k] = true
		switch k {
		case "id":
			if !idRe.MatchString(v) {
				return nil, fmt.Errorf("line %d: id %q: want lower case letters, digits and '-'", n, v)
			}
			cur.ID = v
		case "file":
			if v == "" || filepath.IsAbs(v) || strings.Contains(v, "..") {
				return nil, fmt.Errorf("line %d: file %q: want a path inside the repository", n, v)
			}
			cur.File = v
		case "find", "replace":
			if k == "find" {
				if v == "" {
					return nil, fmt.Errorf("line %d: find is empty", n)
				}
				cur.Find = v
			} else {
				cur.Replace = v
			}
		case "breaks":
			cur.Breaks = v
		case "labs":
			cur.Labs = strings.Fields(v)
			if len(cur.Labs) == 0 {
				return nil, fmt.Errorf("line %d: labs is empty", n)
			}
		default:
			return nil, fmt.Errorf("line %d: unknown key %q", n, k)
		}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, errors.New("no mutants")
	}
	return ms, nil
}

// Apply returns src with m's snippet replaced, or an error if the snippet
// is not there exactly once.
func (m Mutant) Apply(src string) (string, error) {
	switch c := strings.Count(src, m.Find); c {
	case 1:
		return strings.Replace(src, m.Find, m.Replace, 1), nil
	case 0:
		return "", fmt.Errorf("mutant %s (line %d): %s no longer contains %q", m.ID, m.Line, m.File, m.Find)
	default:
		return "", fmt.Errorf("mutant %s (line %d): %s contains %q %d times; make the snippet distinctive", m.ID, m.Line, m.File, m.Find, c)
	}
}

// CheckSnippets applies every mutant to the files under root, in memory,
// and reports every snippet that is missing or ambiguous, and every lab
// that does not exist.
func CheckSnippets(root string, ms []Mutant) error {
	var errs []error
	for _, m := range ms {
		src, err := os.ReadFile(filepath.Join(root, m.File))
		if err != nil {
			errs = append(errs, fmt.Errorf("mutant %s (line %d): %w", m.ID, m.Line, err))
			continue
		}
		if _, err := m.Apply(string(src)); err != nil {
			errs = append(errs, err)
		}
		for _, l := range m.Labs {
			if strings.HasPrefix(l, "Test") {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, "labs", l+".txtar")); err != nil {
				errs = append(errs, fmt.Errorf("mutant %s (line %d): no lab labs/%s.txtar", m.ID, m.Line, l))
			}
		}
	}
	return errors.Join(errs...)
}
