// --filter as Docker has it: the CLI's flag (opts.FilterOpt) and the
// daemon's matching (api/types/filters, daemon/list.go,
// daemon/network/filter.go), done here on the list the daemon returns.
// Values of one key OR (status=running and status=exited is either), keys
// AND; label values AND too, as in Docker.

package cli

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/nslab/nslab/engine/api"
)

// filterArgs is Docker's filters.Args: each key's set of values.
type filterArgs map[string]map[string]bool

// errBadFilterFormat is opts.ErrBadFormat.
var errBadFilterFormat = errors.New("bad format of filter (expected name=value)")

// filterOpt is the -f/--filter flag: repeated NAME=VALUE, the name
// lower-cased and both trimmed, as opts.ParseFlag does.
type filterOpt struct{ args filterArgs }

func newFilterOpt() *filterOpt { return &filterOpt{args: filterArgs{}} }

func (o *filterOpt) String() string {
	var kv []string
	for k, vs := range o.args {
		for v := range vs {
			kv = append(kv, k+"="+v)
		}
	}
	sort.Strings(kv)
	return strings.Join(kv, " ")
}

func (o *filterOpt) Set(arg string) error {
	if arg == "" {
		return nil
	}
	k, v, ok := strings.Cut(arg, "=")
	if !ok {
		return errBadFilterFormat
	}
	o.args.add(strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v))
	return nil
}

func (o *filterOpt) Type() string { return "filter" }

func (a filterArgs) add(k, v string) {
	if a[k] == nil {
		a[k] = map[string]bool{}
	}
	a[k][v] = true
}

// values are a key's values, sorted.
func (a filterArgs) values(k string) []string {
	var out []string
	for v := range a[k] {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// invalidFilter is the daemon's answer to a key it does not know:
// api/types/filters' invalidFilter, lower-case since Docker 23 (20.10 says
// "Invalid filter 'foo'").
func invalidFilter(key string) error {
	return &api.Error{Msg: fmt.Sprintf("invalid filter '%s'", key)}
}

// validate refuses keys outside accepted, naming the first in sorted
// order (Docker takes map order).
func (a filterArgs) validate(accepted ...string) error {
	ok := map[string]bool{}
	for _, k := range accepted {
		ok[k] = true
	}
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !ok[k] {
			return invalidFilter(k)
		}
	}
	return nil
}

// exactMatch: no such key, or source is one of its values.
func (a filterArgs) exactMatch(k, source string) bool {
	vs, ok := a[k]
	return !ok || len(vs) == 0 || vs[source]
}

// match: no such key, or source equals or matches (as a regular
// expression, unanchored) one of its values, as Args.Match does.
func (a filterArgs) match(k, source string) bool {
	if a.exactMatch(k, source) {
		return true
	}
	for v := range a[k] {
		if ok, err := regexp.MatchString(v, source); err == nil && ok {
			return true
		}
	}
	return false
}

// matchKVList: every label value (KEY or KEY=VALUE) holds, as
// Args.MatchKVList does.
func (a filterArgs) matchKVList(k string, labels map[string]string) bool {
	vs := a[k]
	if len(vs) == 0 {
		return true
	}
	if len(labels) == 0 {
		return false
	}
	for v := range vs {
		key, val, hasVal := strings.Cut(v, "=")
		got, ok := labels[key]
		if !ok || hasVal && got != val {
			return false
		}
	}
	return true
}

// Docker's ps filter keys (daemon/list.go acceptedPsFilterTags).
var psFilterKeys = []string{"ancestor", "before", "exited", "health", "id", "isolation", "is-task",
	"label", "name", "network", "publish", "since", "status", "volume", "expose"}

// psFilterUnsupported are keys Docker accepts that need what nslab has
// not: port and volume indexes, Windows isolation.
var psFilterUnsupported = map[string]string{
	"publish": "published-port", "expose": "exposed-port", "volume": "volume", "isolation": "isolation",
}

// containerStates are the states the status filter takes
// (container.IsValidStateString).
var containerStates = []string{"created", "restarting", "running", "removing", "paused", "exited", "dead"}

// psFilter is a folded ps filter: daemon/list.go's listContext.
type psFilter struct {
	args       filterArgs
	exited     []int
	statusAll  bool            // a status filter shows stopped containers too
	images     map[string]bool // ancestor: image IDs
	beforeID   string
	sinceID    string
	needLabels bool
}

// foldPsFilter checks the filters and resolves what they name, with the
// daemon's messages. rows is every container, images every image.
func foldPsFilter(a filterArgs, rows []api.PsEntry, images []api.ImageEntry) (*psFilter, error) {
	if err := a.validate(psFilterKeys...); err != nil {
		return nil, err
	}
	for _, k := range []string{"publish", "expose", "volume", "isolation"} {
		if _, ok := a[k]; ok {
			return nil, fmt.Errorf("the %s filter is not supported by nslab (nslab keeps no %s index)", k, psFilterUnsupported[k])
		}
	}
	f := &psFilter{args: a, needLabels: len(a["label"]) > 0}
	for _, v := range a.values("exited") {
		code, err := strconv.Atoi(v)
		if err != nil {
			return nil, &api.Error{Msg: err.Error()}
		}
		f.exited = append(f.exited, code)
	}
	for _, v := range a.values("status") {
		ok := false
		for _, s := range containerStates {
			ok = ok || s == v
		}
		if !ok {
			return nil, &api.Error{Msg: fmt.Sprintf("Invalid filter 'status=%s'", v)}
		}
		f.statusAll = true
	}
	if _, ok := a["is-task"]; ok && !a.exactMatch("is-task", "true") && !a.exactMatch("is-task", "false") {
		return nil, &api.Error{Msg: fmt.Sprintf("Invalid filter 'is-task=%s'", a.values("is-task"))}
	}
	for _, v := range a.values("health") {
		switch v {
		case "starting", "healthy", "unhealthy", "none":
		default:
			return nil, &api.Error{Msg: "Unrecognised filter value for health: " + v}
		}
	}
	var err error
	for _, v := range a.values("before") {
		if f.beforeID, err = containerRef(rows, v); err != nil {
			return nil, err
		}
	}
	for _, v := range a.values("since") {
		if f.sinceID, err = containerRef(rows, v); err != nil {
			return nil, err
		}
	}
	if _, ok := a["ancestor"]; ok {
		f.images = map[string]bool{}
		for _, v := range a.values("ancestor") {
			if id := imageRef(images, v); id != "" {
				f.images[id] = true
			}
		}
	}
	return f, nil
}

// containerRef finds a container by ID, ID prefix or name, for before= and
// since=.
func containerRef(rows []api.PsEntry, ref string) (string, error) {
	var found []string
	for _, r := range rows {
		if r.ID == ref || r.Names == strings.TrimPrefix(ref, "/") {
			return r.ID, nil
		}
		if strings.HasPrefix(r.ID, ref) {
			found = append(found, r.ID)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	return "", &api.Error{Msg: "No such container: " + ref}
}

// imageRef resolves an image as the daemon's GetImage does: name[:tag]
// (latest by default), full ID with or without sha256:, or an ID prefix.
func imageRef(images []api.ImageEntry, ref string) string {
	repo, tag, hasTag := strings.Cut(ref, ":")
	if !hasTag || strings.Contains(tag, "/") {
		repo, tag = ref, "latest"
	}
	for _, im := range images {
		if im.Repository == repo && im.Tag == tag {
			return im.ID
		}
	}
	hex := strings.TrimPrefix(ref, "sha256:")
	if len(hex) == 0 {
		return ""
	}
	for _, im := range images {
		if strings.HasPrefix(strings.TrimPrefix(im.ID, "sha256:"), hex) {
			return im.ID
		}
	}
	return ""
}

// uniquePrefix reports whether prefix names exactly one ID, as the
// daemon's GetByPrefix requires for id=.
func uniquePrefix(ids []string, prefix string) string {
	found := ""
	for _, id := range ids {
		if strings.HasPrefix(id, prefix) {
			if found != "" {
				return ""
			}
			found = id
		}
	}
	return found
}

// apply keeps the rows (newest first) that pass, as reduceContainers does:
// stopped ones only with all (or a status filter, or a limit), before=
// skips down to that container, since= stops there, and limit counts the
// rows kept. labels are each container's, when a label filter needs them.
func (f *psFilter) apply(rows []api.PsEntry, all bool, limit int, labels map[string]map[string]string) []api.PsEntry {
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	idOK := map[string]bool{}
	for _, v := range f.args.values("id") {
		if id := uniquePrefix(ids, v); id != "" {
			idOK[id] = true
		}
	}
	before := f.beforeID
	var out []api.PsEntry
	for _, r := range rows {
		if before != "" {
			if r.ID == before {
				before = ""
			}
			continue
		}
		if f.sinceID != "" && r.ID == f.sinceID {
			break
		}
		if !r.Running && !all && !f.statusAll && limit <= 0 {
			continue
		}
		if _, ok := f.args["id"]; ok && (!idOK[r.ID] || !f.args.match("id", r.ID)) {
			continue
		}
		if !f.args.match("name", r.Names) && !f.args.match("name", "/"+r.Names) {
			continue
		}
		if _, ok := f.args["is-task"]; ok && !f.args.exactMatch("is-task", "false") {
			continue // nslab has no swarm tasks
		}
		if !f.args.matchKVList("label", labels[r.ID]) {
			continue
		}
		if limit > 0 && len(out) == limit {
			break
		}
		if len(f.exited) > 0 {
			keep := false
			for _, code := range f.exited {
				keep = keep || code == r.ExitCode && !r.Running && !r.Started.IsZero()
			}
			if !keep {
				continue
			}
		}
		if !f.args.match("status", r.State) {
			continue
		}
		if !f.args.exactMatch("health", "none") {
			continue // nslab has no health checks: every container is "none"
		}
		if f.images != nil && !f.images[r.ImageID] {
			continue
		}
		if _, ok := f.args["network"]; ok && !onNetwork(r, f.args.values("network")) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// onNetwork: the container is on a network named by one of the values, by
// name or by a prefix of its ID.
func onNetwork(r api.PsEntry, values []string) bool {
	for _, v := range values {
		if _, ok := r.Networks[v]; ok {
			return true
		}
		for _, id := range r.Networks {
			if id != "" && strings.HasPrefix(id, v) {
				return true
			}
		}
	}
	return false
}

// Docker's network ls filter keys (daemon/network/filter.go,
// api/server/router/network acceptedNetworkFilters).
var networkFilterKeys = []string{"dangling", "driver", "id", "label", "name", "scope", "type"}

// predefinedNetworks are the networks type=builtin lists.
var predefinedNetworks = map[string]bool{"bridge": true, "host": true, "none": true, "default": true}

// filterNetworks is FilterNetworks: driver and scope exactly, name and id
// as Match does, label as MatchKVList, type builtin or custom, dangling
// true or false (a network no container is on; predefined ones never are).
func filterNetworks(a filterArgs, nets []api.NetworkSummary, inUse map[string]bool) ([]api.NetworkSummary, error) {
	if err := a.validate(networkFilterKeys...); err != nil {
		return nil, err
	}
	for _, t := range a.values("type") {
		if t != "builtin" && t != "custom" {
			return nil, &api.Error{Msg: fmt.Sprintf("invalid filter: 'type'='%s'", t)}
		}
	}
	var dangling *bool
	if vs := a.values("dangling"); len(vs) > 0 {
		if len(vs) > 1 {
			return nil, &api.Error{Msg: `got more than one value for filter key "dangling"`}
		}
		d := false
		switch vs[0] {
		case "0", "false":
		case "1", "true":
			d = true
		default:
			return nil, &api.Error{Msg: `invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`}
		}
		dangling = &d
	}
	var out []api.NetworkSummary
	for _, n := range nets {
		if !a.exactMatch("driver", n.Driver) || !a.match("name", n.Name) || !a.match("id", n.ID) ||
			!a.matchKVList("label", nil) || !a.exactMatch("scope", n.Scope) {
			continue
		}
		if dangling != nil && *dangling != (!predefinedNetworks[n.Name] && !inUse[n.Name]) {
			continue
		}
		if _, ok := a["type"]; ok {
			kind := "custom"
			if predefinedNetworks[n.Name] {
				kind = "builtin"
			}
			if !a["type"][kind] {
				continue
			}
		}
		out = append(out, n)
	}
	return out, nil
}
