// Package clinics holds the rules of clinics and their doctors: admins
// create and rename clinics and attach DOCTOR accounts to them with a unique
// license number; anyone signed in lists clinics; a doctor reads their own
// profile. Every change is audited in its own transaction.
package clinics

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/services/accounts"
	"aura/services/audit"
	"aura/services/policy"
)

// Service applies the clinic rules.
type Service struct {
	Clock    models.Clock
	Settings Settings
}

// List returns a page (from 1) of the active clinics, by name, to any
// signed-in user: the clinics a patient may send to.
func (s *Service) List(ctx context.Context, st *repositories.Store, page, pageSize int) (repositories.ClinicPage, error) {
	return st.Clinics.Filtered(repositories.ClinicFilter{Status: []string{models.ClinicActive}}, page, pageSize)
}

// ClinicInput is a clinic as an admin types it; nil leaves a field as it is
// (on create, name is required).
type ClinicInput struct {
	Name      *string
	Address   models.Opt[string]
	Phone     models.Opt[string]
	LicenseNo models.Opt[string]
}

// optional checks an optional one-line text: blank is null.
func optional(o models.Opt[string], field string, ok func(string) string, details map[string]string) models.Opt[string] {
	if !o.Set || o.Null {
		return o
	}
	v := strings.TrimSpace(o.Value)
	if v == "" {
		return models.Opt[string]{Set: true, Null: true}
	}
	if msg := ok(v); msg != "" {
		details[field] = msg
	}
	o.Value = v
	return o
}

func (in ClinicInput) check(create bool) (name *string, ch repositories.ClinicChanges, err error) {
	details := map[string]string{}
	if in.Name != nil || create {
		n := ""
		if in.Name != nil {
			n = strings.TrimSpace(*in.Name)
		}
		if msg := models.CheckText(n, 1, 200, false); msg != "" {
			details["name"] = msg
		}
		name = &n
	}
	ch.Address = optional(in.Address, "address", func(v string) string { return models.CheckText(v, 1, 500, false) }, details)
	ch.Phone = optional(in.Phone, "phone", func(v string) string {
		if !accounts.ValidPhone(v) {
			return badPhone
		}
		return ""
	}, details)
	ch.LicenseNo = optional(in.LicenseNo, "licenseNo", func(v string) string { return models.CheckText(v, 1, 100, false) }, details)
	if len(details) > 0 {
		return nil, ch, models.Invalid(details)
	}
	ch.Name = name
	return name, ch, nil
}

// Create makes an active clinic (ADMIN), with no applicant. A name or
// licence number that exists, compared with Unicode case folding, is
// CONFLICT, also when two creates race.
func (s *Service) Create(ctx context.Context, st *repositories.Store, a models.Actor, in ClinicInput) (*models.Clinic, error) {
	if err := policy.Can(a, policy.PermClinicsManage); err != nil {
		return nil, err
	}
	name, ch, err := in.check(true)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	c := &models.Clinic{ID: uuid.NewString(), Name: *name, NameKey: models.FoldKey(*name), Status: models.ClinicActive,
		ApprovedAt: &now, CreatedAt: now, UpdatedAt: now}
	set := func(o models.Opt[string]) *string {
		if o.Set && !o.Null {
			return &o.Value
		}
		return nil
	}
	c.Address, c.Phone, c.LicenseNo = set(ch.Address), set(ch.Phone), set(ch.LicenseNo)
	if c.LicenseNo != nil {
		k := models.FoldKey(*c.LicenseNo)
		c.LicenseKey = &k
	}
	err = st.Tx(func(tx *repositories.Store) error {
		if err := s.unique(tx, c.NameKey, models.Deref(c.LicenseKey), c.ID); err != nil {
			return err
		}
		if err := tx.Clinics.Create(c); err != nil {
			return err
		}
		return audit.Record(tx, a, models.RoleAdmin, models.AuditClinicCreate, models.EntityClinic, c.ID, now)
	})
	return c, conflict(err, msgNameOrLicense)
}

// Update renames a clinic or changes its address (ADMIN).
func (s *Service) Update(ctx context.Context, st *repositories.Store, a models.Actor, id string, in ClinicInput) (*models.Clinic, error) {
	if err := policy.Can(a, policy.PermClinicsManage); err != nil {
		return nil, err
	}
	_, ch, err := in.check(false)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	var out *models.Clinic
	err = st.Tx(func(tx *repositories.Store) error {
		nameKey, licenseKey := "", ""
		if ch.Name != nil {
			nameKey = models.FoldKey(*ch.Name)
		}
		if ch.LicenseNo.Set && !ch.LicenseNo.Null {
			licenseKey = models.FoldKey(ch.LicenseNo.Value)
		}
		if err := s.unique(tx, nameKey, licenseKey, id); err != nil {
			return err
		}
		if err := tx.Clinics.Update(id, ch, now); err != nil {
			return err
		}
		if err := audit.Record(tx, a, models.RoleAdmin, models.AuditClinicUpdate, models.EntityClinic, id, now); err != nil {
			return err
		}
		out, err = tx.Clinics.ByID(id)
		return err
	})
	return out, conflict(err, msgNameOrLicense)
}

// unique says which of a name and a licence number (folded keys; ""
// skipped) another clinic than id holds: CONFLICT with its message. A race
// past it meets the unique indexes.
func (s *Service) unique(tx *repositories.Store, nameKey, licenseKey, id string) error {
	name, license, err := tx.Clinics.Taken(nameKey, licenseKey, id)
	switch {
	case err != nil:
		return err
	case name && nameKey != "":
		return models.WithMessage(models.ErrConflict, msgNameTaken)
	case license:
		return models.WithMessage(models.ErrConflict, msgLicenseTaken)
	}
	return nil
}

// conflict gives a unique violation its message (a conflict that has one
// keeps it).
func conflict(err error, msg string) error {
	var e *models.Error
	if errors.As(err, &e) && e == models.ErrConflict {
		return models.WithMessage(models.ErrConflict, msg)
	}
	return err
}
