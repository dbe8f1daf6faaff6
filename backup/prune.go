package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
)

// Prune keeps the keep newest complete backups at the location uri and
// deletes every backup older than the oldest one kept, complete or not (an
// incomplete one newer than it may be one being written, and stays). It
// returns the names deleted. keep < 1 deletes nothing.
func Prune(ctx context.Context, uri string, keep int) ([]string, error) {
	if keep < 1 {
		return nil, nil
	}
	loc, err := openLocation(ctx, uri, false)
	if err != nil {
		return nil, err
	}
	defer loc.Close()
	entries, err := list(ctx, loc.bucket)
	if err != nil {
		return nil, err
	}
	complete := 0
	cut := -1 // entries[:cut+1] go
	for i := len(entries) - 1; i >= 0; i-- {
		if !entries[i].Complete {
			continue
		}
		complete++
		if complete == keep {
			cut = i - 1
			break
		}
	}
	var deleted []string
	var errs []error
	for i := 0; i <= cut; i++ {
		name := entries[i].Name
		var err error
		if loc.dir != "" {
			// The manifest first: a backup interrupted while it is deleted
			// is then an incomplete one, never restored.
			err = loc.bucket.Delete(ctx, name+"/"+ManifestName)
			if err == nil || !entries[i].Complete {
				err = os.RemoveAll(filepath.Join(loc.dir, filepath.FromSlash(name)))
			}
		} else {
			if entries[i].Complete {
				err = loc.bucket.Delete(ctx, name+"/"+ManifestName)
			}
			if err == nil {
				err = deletePrefix(ctx, loc.bucket, name+"/")
			}
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, name)
	}
	return deleted, errors.Join(errs...)
}
