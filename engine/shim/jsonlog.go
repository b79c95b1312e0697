package shim

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// jsonLog writes Docker's json-file log format, one object per chunk, and
// rotates it as json-file does: once the file has reached maxSize, the next
// entry goes to a fresh file and the old ones move up (path.1, path.2, ...),
// keeping maxFile files in all. With one file it is truncated instead.
type jsonLog struct {
	mu      sync.Mutex
	f       *os.File
	path    string
	size    int64
	maxSize int64
	maxFile int
}

func openJSONLog(path string, maxSize int64, maxFile int) (*jsonLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	return &jsonLog{f: f, path: path, size: fi.Size(), maxSize: maxSize, maxFile: maxFile}, nil
}

// write appends one entry. Call with l.mu held.
func (l *jsonLog) write(b []byte) {
	if l.f == nil {
		return
	}
	if l.maxSize > 0 && l.size >= l.maxSize {
		if err := l.rotate(); err != nil {
			return
		}
	}
	n, _ := l.f.Write(b)
	l.size += int64(n)
}

func (l *jsonLog) rotate() error {
	l.f.Close()
	l.f = nil
	if l.maxFile > 1 {
		os.Remove(fmt.Sprintf("%s.%d", l.path, l.maxFile-1))
		for i := l.maxFile - 2; i >= 1; i-- {
			os.Rename(fmt.Sprintf("%s.%d", l.path, i), fmt.Sprintf("%s.%d", l.path, i+1))
		}
		os.Rename(l.path, l.path+".1")
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	l.f, l.size = f, 0
	return nil
}

// Close closes the current file.
func (l *jsonLog) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

func (l *jsonLog) copy(stream string, r io.Reader, tee io.Writer) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if tee != nil {
				tee.Write(buf[:n])
			}
			b, _ := json.Marshal(struct {
				Log    string `json:"log"`
				Stream string `json:"stream"`
				Time   string `json:"time"`
			}{string(buf[:n]), stream, time.Now().UTC().Format(time.RFC3339Nano)})
			l.mu.Lock()
			l.write(append(b, '\n'))
			l.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// LogFiles lists a log's files oldest first: path.N ... path.1, path.
func LogFiles(path string) []string {
	var rotated []int
	dir, base := path[:strings.LastIndex(path, "/")+1], path[strings.LastIndex(path, "/")+1:]
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), base+".")); err == nil && strings.HasPrefix(e.Name(), base+".") {
			rotated = append(rotated, n)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(rotated)))
	var out []string
	for _, n := range rotated {
		out = append(out, fmt.Sprintf("%s.%d", path, n))
	}
	return append(out, path)
}
