package daemon

import (
	"time"

	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/image"
)

// ImageEntry is one row of `docker images`: one per name an image answers to.
type ImageEntry struct {
	Repository string
	Tag        string
	ID         string // sha256:<hex>
	Created    time.Time
	Size       int64
}

func init() {
	handlers["images"] = func(d *Daemon, s *api.ServerConn) (any, error) {
		var out []ImageEntry
		for _, repo := range image.Repositories() {
			// Building is idempotent and done once per lab host; the
			// store has its own lock, so the daemon's is not held.
			img, err := d.images.Get(repo)
			if err != nil {
				return nil, err
			}
			out = append(out, ImageEntry{Repository: repo, Tag: "latest", ID: img.ID, Created: img.Created, Size: img.Size})
		}
		return out, nil
	}
}
