// Package privacy holds the rules of a patient's rights over their data:
// the export of everything AURA holds about them, and the erasure of their
// personal data once they deleted their account (the deletion itself is
// accounts.DeleteAccount: it checks the password and deactivates the
// account; housekeeping calls Erase when the grace period is over).
package privacy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/policy"
	"aura/storage"
)

// Settings are the values of the configuration the rules need.
type Settings struct {
	// ExportMax exports one account may start per ExportWindow (0: no
	// limit); beyond, RATE_LIMITED with the wait.
	ExportMax    int
	ExportWindow time.Duration
}

// Service applies the privacy rules.
type Service struct {
	Settings Settings
	// Blobs is the object store: images, maps, reports.
	Blobs *storage.Store
	// Clock is the time source (nil: the system clock).
	Clock models.Clock
}

// Export is everything AURA holds about one account, read in one
// transaction; the stored objects it names are read while the archive is
// written (Open).
type Export struct {
	User    *models.User
	Patient *models.Patient // nil: the account never had a profile
	// Screenings are the patient's, oldest first, with everything shown.
	Screenings    []repositories.ScreeningRow
	Notifications []models.Notification
	// Messages are those of the patient's conversations with clinics.
	Messages []repositories.ExportMessage
	// Alerts are those opened on the patient's results.
	Alerts []models.Alert
	// Audit are the rows about the account (see repositories.ExportAudit);
	// AuditTruncated says the oldest ExportAuditMax were kept, not all.
	Audit          []models.AuditLog
	AuditTruncated bool
	// Lang is the language of the archive's README (vi, en).
	Lang string
	At   time.Time
}

// Object is one stored file of a screening, as the archive names it.
type Object struct {
	Name string // e.g. "image.jpg", "vessels.png", "report.pdf"
	Key  string
}

func exportKey(userID string) string { return "export:" + userID }

// Export gathers the caller's data (PATIENT only), within the export
// limit, and records the export (patient.export) before anything is
// answered. reqLang is the request's language, used when the account has
// none.
func (s *Service) Export(ctx context.Context, st *repositories.Store, a models.Actor, reqLang string) (*Export, error) {
	if err := policy.Can(a, policy.PermOwnProfile); err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	if s.Settings.ExportMax > 0 {
		wait, err := st.Limits.Claim(exportKey(a.UserID), s.Settings.ExportMax, s.Settings.ExportWindow, now)
		if err != nil {
			return nil, err
		}
		if wait > 0 {
			return nil, models.WithMessage(models.RateLimited(wait), "Too many exports of your data; try again later")
		}
	}
	out := &Export{At: now}
	err := st.Tx(func(tx *repositories.Store) error {
		var err error
		if out.User, err = tx.Users.ByID(a.UserID); err != nil {
			return err
		}
		p, err := tx.Patients.Get(a.UserID, repositories.Scope{PatientID: a.UserID})
		switch {
		case err == nil:
			out.Patient = p
		case !errors.Is(err, models.ErrNotFound):
			return err
		}
		if out.Screenings, err = tx.Erasure.ExportScreenings(a.UserID); err != nil {
			return err
		}
		if out.Notifications, err = tx.Erasure.ExportNotifications(a.UserID); err != nil {
			return err
		}
		if out.Messages, err = tx.Erasure.ExportMessages(a.UserID); err != nil {
			return err
		}
		if out.Alerts, err = tx.Erasure.ExportAlerts(a.UserID); err != nil {
			return err
		}
		if out.Audit, out.AuditTruncated, err = tx.Erasure.ExportAudit(a.UserID); err != nil {
			return err
		}
		return audit.Record(tx, a, models.RolePatient, models.AuditPatientExport, models.EntityPatient, a.UserID, now)
	})
	if err != nil {
		return nil, err
	}
	lang := reqLang
	if out.User.Lang != nil && *out.User.Lang != "" {
		lang = *out.User.Lang
	}
	out.Lang = lang
	return out, nil
}

// Objects are the stored files of the screening row that exist: the
// photograph, the vessel maps, the overlay and the PDF reports already made
// (a report is made on its first GET; one never asked for is not made here).
func (s *Service) Objects(ctx context.Context, row *repositories.ScreeningRow) ([]Object, error) {
	var out []Object
	if row.ImageKey != "" {
		ext := row.ImageKey[strings.LastIndexByte(row.ImageKey, '.')+1:]
		out = append(out, Object{Name: "image." + ext, Key: row.ImageKey})
	}
	for _, o := range []struct {
		name string
		key  *string
	}{{"vessels.png", row.Analysis.VesselKey}, {"arteries-veins.png", row.Analysis.AVKey}, {"overlay.jpg", row.Analysis.OverlayKey}} {
		if o.key != nil && *o.key != "" {
			out = append(out, Object{Name: o.name, Key: *o.key})
		}
	}
	if row.ImageKey == "" {
		return out, nil // erased
	}
	prefix, err := storage.ReportPrefix(row.ID)
	if err != nil {
		return out, nil
	}
	keys, err := s.Blobs.List(ctx, prefix)
	if err != nil {
		return nil, errors.Join(models.ErrUnavailable, err)
	}
	for i, k := range keys {
		name := "report.pdf"
		if i > 0 {
			name = fmt.Sprintf("report-%d.pdf", i+1)
		}
		out = append(out, Object{Name: name, Key: k})
	}
	return out, nil
}

// Open reads one stored object through the store's decrypting read path;
// models.ErrNotFound when it is not there.
func (s *Service) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, _, err := s.Blobs.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, models.ErrNotFound
	}
	if err != nil {
		return nil, errors.Join(models.ErrUnavailable, err)
	}
	return rc, nil
}

// Erased counts what one Erase did.
type Erased struct {
	Accounts int
	Objects  int
}

// Erase erases the personal data of every account whose erasure is due at
// now, at most batch of them: first their screenings' stored objects (each
// screening's whole directory of the store: photograph, maps, overlay,
// reports), then, in one transaction per account, their rows
// (repositories.Erasure.Scrub), audited as patient.erase by no one. It is
// safe to run twice, or on two instances at once: deleting a missing object
// succeeds, and Scrub changes an account only while its erasure is still
// due. An account whose objects could not all be deleted keeps its rows,
// and is tried again by the next run.
func Erase(ctx context.Context, st *repositories.Store, blobs *storage.Store, now time.Time, batch int) (Erased, error) {
	var out Erased
	if batch <= 0 {
		batch = 100
	}
	ids, err := st.Erasure.Due(now, batch)
	if err != nil {
		return out, err
	}
	var errs []error
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		n, err := eraseOne(ctx, st, blobs, id, now)
		out.Objects += n
		if err != nil {
			errs = append(errs, fmt.Errorf("erase account %s: %w", id, err))
			continue
		}
		out.Accounts++
	}
	return out, errors.Join(errs...)
}

func eraseOne(ctx context.Context, st *repositories.Store, blobs *storage.Store, id string, now time.Time) (int, error) {
	screenings, err := st.Erasure.ScreeningIDs(id)
	if err != nil {
		return 0, err
	}
	deleted := 0
	if blobs != nil {
		for _, sid := range screenings {
			prefix, err := storage.ReportPrefix(sid)
			if err != nil {
				continue
			}
			dir := strings.TrimSuffix(prefix, "report-")
			for {
				keys, err := blobs.List(ctx, dir)
				if err != nil {
					return deleted, err
				}
				for _, k := range keys {
					if err := blobs.Delete(ctx, k); err != nil {
						return deleted, err
					}
					deleted++
				}
				if len(keys) < 1000 {
					break
				}
			}
		}
	}
	erased := false
	err = st.Tx(func(tx *repositories.Store) error {
		var err error
		if erased, err = tx.Erasure.Scrub(id, erasedCode(), now); err != nil || !erased {
			return err
		}
		return audit.Record(tx, models.Actor{}, "", models.AuditPatientErase, models.EntityUser, id, now)
	})
	if err != nil {
		return deleted, err
	}
	return deleted, nil
}

// erasedCode is the patient code an erased profile is left with: random,
// so it links to nothing, and marked as such ("X-" and 16 hex digits).
func erasedCode() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "X-" + hex.EncodeToString(b)
}
