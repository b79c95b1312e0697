package daemon

// The state on disk, one file per object, as dockerd keeps it: a
// container's is containers/ID/config.v2.json (Docker's name), beside its
// rootfs, and a network's is networks/ID.json. Each is written, atomically
// (a temporary file renamed over it), before the change that made it is
// answered, so a daemon killed at any moment after a reply finds that
// change when it restarts (restore.go). A change writes only its own
// object, so its cost does not grow with the number of containers.
//
// The files live on the lab host's /run, a tmpfs: a rename is atomic
// there, and the page cache outlives a killed daemon, so no fsync is
// needed; a crash of the machine ends the lab host and its state anyway.

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// containerFile is a container's state file's name in its directory.
const containerFile = "config.v2.json"

// savedContainer is a container's state file: its exported state and, while
// it runs, what a restarted daemon needs to adopt it.
type savedContainer struct {
	Container *Container
	Live      *liveInfo `json:",omitempty"`
}

// savedState is every object's state, as Restore reads it back.
type savedState struct {
	Networks   []*Network
	Containers []*Container
	// Live is liveInfo by container ID, for running containers.
	Live map[string]liveInfo
}

// saveContainer writes c's state file, or, when c has been removed, does
// nothing: remove deleted its directory with the file. Call with d.mu held.
func (d *Daemon) saveContainer(c *Container) {
	if d.containers[c.ID] != c {
		return
	}
	s := savedContainer{Container: c}
	if c.running() {
		li := liveOf(c)
		s.Live = &li
	}
	if err := writeJSON(c.file(containerFile), s); err != nil {
		log.Printf("container %s: state: %v", c.Name, err)
		return
	}
	if !c.running() {
		c.dropExitRecord() // the file has the exit now (keepExit)
	}
}

// saveNetwork writes n's state file, or removes it when n has been removed.
// Call with d.mu held.
func (d *Daemon) saveNetwork(n *Network) {
	path := filepath.Join(d.dir, "networks", n.ID+".json")
	if d.networks[n.ID] != n {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Printf("network %s: state: %v", n.Name, err)
		}
		return
	}
	if err := writeJSON(path, n); err != nil {
		log.Printf("network %s: state: %v", n.Name, err)
	}
}

// saveAll writes every object's state file and removes the files of
// networks that are gone: New calls it for the predefined networks, and
// Restore once it has settled what it adopted and what it lost. Call with
// d.mu held, or before d is shared.
func (d *Daemon) saveAll() {
	files, _ := filepath.Glob(filepath.Join(d.dir, "networks", "*.json"))
	for _, path := range files {
		if _, ok := d.networks[strings.TrimSuffix(filepath.Base(path), ".json")]; !ok {
			os.Remove(path)
		}
	}
	for _, n := range d.networks {
		d.saveNetwork(n)
	}
	for _, c := range d.containers {
		d.saveContainer(c)
	}
}

// writeJSON writes v to path atomically, making path's directory if needed.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// loadState reads every state file under dir. A file that cannot be read
// is logged and skipped: its object's kernel parts are then debris for
// reconcile. Networks come sorted by name and containers by creation, as
// they were made.
func loadState(dir string) savedState {
	st := savedState{Live: map[string]liveInfo{}}
	nets, _ := filepath.Glob(filepath.Join(dir, "networks", "*.json"))
	for _, path := range nets {
		var n Network
		if err := readJSON(path, &n); err != nil {
			log.Printf("restore: %v", err)
			continue
		}
		st.Networks = append(st.Networks, &n)
	}
	ctrs, _ := filepath.Glob(filepath.Join(dir, "containers", "*", containerFile))
	for _, path := range ctrs {
		var s savedContainer
		if err := readJSON(path, &s); err != nil || s.Container == nil {
			log.Printf("restore: %s: no container in it (%v)", path, err)
			continue
		}
		st.Containers = append(st.Containers, s.Container)
		if s.Live != nil {
			st.Live[s.Container.ID] = *s.Live
		}
	}
	sort.Slice(st.Networks, func(i, j int) bool { return st.Networks[i].Name < st.Networks[j].Name })
	sort.Slice(st.Containers, func(i, j int) bool { return st.Containers[i].Created.Before(st.Containers[j].Created) })
	return st
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
