package daemon

import (
	"github.com/nslab/nslab/engine/api"
	"github.com/nslab/nslab/engine/image"
)

// handleImages lists the images, one row per name an image answers to.
func (d *Daemon) handleImages(api.ImagesRequest) ([]api.ImageEntry, error) {
	var out []api.ImageEntry
	for _, repo := range image.Repositories() {
		// Building is idempotent and done once per lab host; the store
		// has its own lock, so the daemon's is not held.
		img, err := d.images.Get(repo)
		if err != nil {
			return nil, err
		}
		out = append(out, api.ImageEntry{Repository: repo, Tag: "latest", ID: img.ID, Created: img.Created, Size: img.Size})
	}
	return out, nil
}
