package labs_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/nslab/nslab/engine/labhost"
)

// inspectScene makes the same containers and networks on either engine,
// then prints each one's inspect after a "== NAME" line: a plain run, a
// run on a user network with --ip, an alias and a published port, host
// mode running and stopped, none, a shared namespace, a stopped container,
// and the networks.
const inspectScene = `set -e
docker network create --subnet 10.40.0.0/24 ipnet >/dev/null
docker run -d --name plain busybox sleep 3600 >/dev/null
docker run -d --name onnet --network ipnet --ip 10.40.0.5 --network-alias www -p 8080:80 busybox sleep 3600 >/dev/null
docker network connect --ip 10.40.0.9 ipnet plain
docker run -d --name hostrun --network host busybox sleep 3600 >/dev/null
docker run -d --name hoststop --network host busybox sleep 3600 >/dev/null
docker run -d --name nonerun --network none busybox sleep 3600 >/dev/null
docker run -d --name shared --network container:nonerun busybox sleep 3600 >/dev/null
docker run -d --name stopped --expose 53/udp busybox sleep 3600 >/dev/null
docker stop -t 0 hoststop stopped >/dev/null
for c in plain onnet hostrun hoststop nonerun shared stopped; do echo "== $c"; docker inspect $c; done
for n in bridge ipnet host none; do echo "== net $n"; docker network inspect $n; done
`

// inspectKeyDiffs are the differences TestInspectKeysMatchDocker allows:
// "OBJECT: LINE", a line of the object's shape only one engine prints,
// with the reason. labs/CONFORMANCE.md lists them.
var inspectKeyDiffs = map[string]struct{ only, kind, reason string }{
	"net bridge: .IPAM.Config[].Gateway string": {"nslab", versionGap,
		"dockerd 20.10 keeps no Gateway in the default bridge's IPAM config; the notes' Docker (v24) lists 172.17.0.1 (the host-and-none lab records the same)."},
}

// inspectShape lists a JSON object's structure in order: each key's path
// and the kind of its value (null, {}, [], string, number, bool), each
// once. Array elements are path[]; the keys of .Containers (container IDs)
// are *.
func inspectShape(b []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case json.Delim:
			kind, inner := " {}", func() (string, error) {
				k, err := dec.Token()
				if err != nil {
					return "", err
				}
				if path == ".Containers" {
					return ".*", nil
				}
				return "." + k.(string), nil
			}
			if t == '[' {
				kind, inner = " []", func() (string, error) { return "[]", nil }
			}
			add(path + kind)
			for dec.More() {
				step, err := inner()
				if err != nil {
					return err
				}
				if err := walk(path + step); err != nil {
					return err
				}
			}
			_, err := dec.Token()
			return err
		case nil:
			add(path + " null")
		case string:
			add(path + " string")
		case json.Number:
			add(path + " number")
		case bool:
			add(path + " bool")
		}
		return nil
	}
	return out, walk("")
}

// sceneShapes runs inspectScene in a fresh lab host of engine and returns
// each object's shape by its "== NAME" heading.
func sceneShapes(t *testing.T, engine string) map[string][]string {
	h, err := labhost.Start(labhost.Options{Stderr: os.Stderr, Engine: engine})
	if err != nil {
		t.Fatalf("%s lab host: %v", engine, err)
	}
	defer h.Close()
	out := mustInHost(t, h, inspectScene)
	shapes := map[string][]string{}
	for _, part := range strings.Split(out, "== ")[1:] {
		name, body, _ := strings.Cut(part, "\n")
		var objs []json.RawMessage
		if err := json.Unmarshal([]byte(body), &objs); err != nil || len(objs) != 1 {
			t.Fatalf("%s: inspect of %s: %v\n%s", engine, name, err, body)
		}
		s, err := inspectShape(objs[0])
		if err != nil {
			t.Fatalf("%s: inspect of %s: %v", engine, name, err)
		}
		shapes[name] = s
	}
	return shapes
}

// TestInspectKeysMatchDocker runs the same containers and networks on
// nslab and on real Docker, each in its own lab host, and compares the
// shape of every inspect: each key path, in order, and whether its value
// is null, {}, [], a string, a number or a bool. A difference fails unless
// inspectKeyDiffs lists it with its reason, and a listed difference that
// is gone fails too.
func TestInspectKeysMatchDocker(t *testing.T) {
	needDocker(t)
	var wg sync.WaitGroup
	shapes := map[string]map[string][]string{}
	var mu sync.Mutex
	for _, engine := range []string{labhost.EngineNslab, labhost.EngineDocker} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := sceneShapes(t, engine)
			mu.Lock()
			shapes[engine] = s
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	ours, theirs := shapes[labhost.EngineNslab], shapes[labhost.EngineDocker]
	var names []string
	for name := range theirs {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) != 11 || len(ours) != len(theirs) {
		t.Fatalf("the scene printed %d objects on nslab and %d on Docker, want 11 each", len(ours), len(theirs))
	}
	used := map[string]bool{}
	for _, name := range names {
		only := func(a, b []string, engine string) []string {
			in := map[string]bool{}
			for _, l := range b {
				in[l] = true
			}
			var out []string
			for _, l := range a {
				key := name + ": " + l
				if d, ok := inspectKeyDiffs[key]; ok && d.only == engine {
					used[key] = true
					continue
				}
				if !in[l] {
					out = append(out, fmt.Sprintf("  %s only: %s", engine, l))
				}
			}
			return out
		}
		diffs := append(only(theirs[name], ours[name], "docker"), only(ours[name], theirs[name], "nslab")...)
		if len(diffs) > 0 {
			t.Errorf("inspect of %s: its keys differ from Docker's (fix nslab, or list the line in inspectKeyDiffs with the reason):\n%s", name, strings.Join(diffs, "\n"))
			continue
		}
		strip := func(lines []string) string {
			var keep []string
			for _, l := range lines {
				if _, ok := inspectKeyDiffs[name+": "+l]; !ok {
					keep = append(keep, l)
				}
			}
			return strings.Join(keep, "\n")
		}
		if strip(ours[name]) != strip(theirs[name]) {
			t.Errorf("inspect of %s: the same keys as Docker's, in another order:\nnslab:\n%s\nDocker:\n%s", name, strip(ours[name]), strip(theirs[name]))
		}
	}
	for key := range inspectKeyDiffs {
		if !used[key] {
			t.Errorf("inspectKeyDiffs lists %q, which no longer differs: remove it", key)
		}
	}
}

// inspectKeysDoc is CONFORMANCE.md's section on inspect's keys.
func inspectKeysDoc() string {
	var keys []string
	for k := range inspectKeyDiffs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(`
## inspect's keys

TestInspectKeysMatchDocker (labs/inspect_keys_test.go) makes the same containers (a plain run, one on a user
network with --ip, an alias and a published port, host mode running and stopped, none, a shared namespace,
a stopped container) and networks on both engines and compares every key path of their inspect, in order,
with the kind of its value (null, {}, [], string, number, bool). These lines differ:
`)
	for _, k := range keys {
		d := inspectKeyDiffs[k]
		fmt.Fprintf(&b, "\n- `%s`, %s only (%s). %s", k, d.only, d.kind, d.reason)
	}
	b.WriteString("\n")
	return b.String()
}
