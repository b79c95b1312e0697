// Teardown: the parts of stop and rm that wait for the kernel, arranged so
// that neither a reply nor an OS thread waits longer than it must.
//
//   - A container's first process is awaited through a pidfd in the
//     runtime's poller, not a blocking wait4: a blocked wait holds an OS
//     thread per running container, and the runtime never gives idle
//     threads back, so 1,000 containers left 1,000 threads behind.
//   - A veth is deleted with bridge.DetachFast: the reply waits until the
//     kernel has unlisted the pair and taken it off its bridge (about 1 ms),
//     not for the deletion's RCU barrier (15-30 ms), which no one can see.
//   - Memory goes back to the machine soon after containers go: the
//     runtime's background scavenger returns freed pages only slowly (RSS
//     stayed 10x a fresh daemon's for minutes after 100 containers left),
//     so a removal schedules one FreeOSMemory, at most one every trimDelay.

package daemon

import (
	"runtime/debug"
	"sync"
	"time"
)

// trimDelay is how soon after a removal the daemon returns freed memory: at
// most one forced collection per trimDelay, however fast containers go.
const trimDelay = 2 * time.Second

var trim struct {
	sync.Mutex
	pending bool
}

// trimSoon schedules a FreeOSMemory in trimDelay unless one is pending.
func trimSoon() {
	trim.Lock()
	defer trim.Unlock()
	if trim.pending {
		return
	}
	trim.pending = true
	time.AfterFunc(trimDelay, func() {
		trim.Lock()
		trim.pending = false
		trim.Unlock()
		debug.FreeOSMemory()
	})
}
