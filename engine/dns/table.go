package dns

import (
	"net/netip"
	"strings"
	"sync"

	mdns "github.com/miekg/dns"
)

// Table holds the names the embedded DNS server answers: for each
// user-defined network, each container's DNS names (its name, aliases,
// short ID and hostname) and addresses. A container sees only the networks
// it is attached to. Lookups are read-locked, so queries never wait for the
// daemon's slower work.
type Table struct {
	mu   sync.RWMutex
	nets map[string]*netRecords
}

type netRecords struct {
	names map[string][]netip.Addr // lowercased name -> addresses
	ptr   map[netip.Addr]string   // address -> first DNS name
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{nets: map[string]*netRecords{}} }

// Add records names for ip on network. The first name answers PTR queries.
func (t *Table) Add(network string, names []string, ip netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.nets[network]
	if r == nil {
		r = &netRecords{names: map[string][]netip.Addr{}, ptr: map[netip.Addr]string{}}
		t.nets[network] = r
	}
	for _, n := range names {
		k := strings.ToLower(n)
		r.names[k] = append(r.names[k], ip)
	}
	if name, ok := ptrName(network, names); ok {
		r.ptr[ip] = name
	}
}

// ptrName is the first of names that makes a valid "name.network." domain
// name. Docker answers PTR with the first name alone and, when a container
// name is longer than a DNS label's 63 bytes, fails to pack the reply and
// drops it, so the client times out (moby/moby#46928). nslab answers with
// the next name that fits instead: an alias, or the short ID.
func ptrName(network string, names []string) (string, bool) {
	for _, n := range names {
		if _, ok := mdns.IsDomainName(n + "." + network + "."); ok {
			return n, true
		}
	}
	return "", false
}

// Remove forgets names for ip on network.
func (t *Table) Remove(network string, names []string, ip netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.nets[network]
	if r == nil {
		return
	}
	for _, n := range names {
		k := strings.ToLower(n)
		addrs := r.names[k]
		for i, a := range addrs {
			if a == ip {
				addrs = append(addrs[:i:i], addrs[i+1:]...)
				break
			}
		}
		if len(addrs) == 0 {
			delete(r.names, k)
		} else {
			r.names[k] = addrs
		}
	}
	delete(r.ptr, ip)
	if len(r.names) == 0 {
		delete(t.nets, network)
	}
}

// Lookup resolves qname for a container attached to networks, in the
// order Docker uses: the whole name on any of the container's networks,
// then "name.network" split at each dot. The first network that knows a
// name wins. Names match case-insensitively; network names exactly.
// known is true when the name exists even if it has no address.
func (t *Table) Lookup(networks []string, qname string) (addrs []netip.Addr, known bool) {
	name := strings.TrimSuffix(qname, ".")
	t.mu.RLock()
	defer t.mu.RUnlock()
	try := func(host string, only string) ([]netip.Addr, bool) {
		for _, n := range networks {
			if only != "" && n != only {
				continue
			}
			if r := t.nets[n]; r != nil {
				if a, ok := r.names[strings.ToLower(host)]; ok {
					return append([]netip.Addr(nil), a...), true
				}
			}
		}
		return nil, false
	}
	if a, ok := try(name, ""); ok {
		return a, true
	}
	for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
		if a, ok := try(name[:i], name[i+1:]); ok {
			return a, true
		}
	}
	return nil, false
}

// Reverse returns "name.network." for an address on one of networks.
func (t *Table) Reverse(networks []string, ip netip.Addr) (string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, n := range networks {
		if r := t.nets[n]; r != nil {
			if name, ok := r.ptr[ip]; ok {
				return name + "." + n + ".", true
			}
		}
	}
	return "", false
}
