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
	"aura/services/audit"
	"aura/services/policy"
)

// Service applies the clinic rules.
type Service struct{ Clock models.Clock }

// List returns a page (from 1) of the clinics, by name, to any signed-in
// user.
func (s *Service) List(ctx context.Context, st *repositories.Store, page, pageSize int) (repositories.ClinicPage, error) {
	return st.Clinics.Page(page, pageSize)
}

// ClinicInput is a clinic as an admin types it; nil leaves a field as it is
// (on create, name is required).
type ClinicInput struct {
	Name    *string
	Address models.Opt[string]
}

func (in ClinicInput) check(create bool) (name *string, address models.Opt[string], err error) {
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
	address = in.Address
	if address.Set && !address.Null {
		a := strings.TrimSpace(address.Value)
		if a == "" {
			address = models.Opt[string]{Set: true, Null: true}
		} else if msg := models.CheckText(a, 1, 500, false); msg != "" {
			details["address"] = msg
		} else {
			address.Value = a
		}
	}
	if len(details) > 0 {
		return nil, address, models.Invalid(details)
	}
	return name, address, nil
}

// Create makes a clinic (ADMIN). A name that exists, compared with Unicode
// case folding, is CONFLICT, also when two creates race.
func (s *Service) Create(ctx context.Context, st *repositories.Store, a models.Actor, in ClinicInput) (*models.Clinic, error) {
	if err := policy.Can(a, policy.PermClinicsManage); err != nil {
		return nil, err
	}
	name, address, err := in.check(true)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	c := &models.Clinic{ID: uuid.NewString(), Name: *name, NameKey: models.FoldKey(*name), CreatedAt: now, UpdatedAt: now}
	if address.Set && !address.Null {
		c.Address = &address.Value
	}
	err = st.Tx(func(tx *repositories.Store) error {
		if err := tx.Clinics.Create(c); err != nil {
			return err
		}
		return audit.Record(tx, a, models.RoleAdmin, models.AuditClinicCreate, models.EntityClinic, c.ID, now)
	})
	return c, conflict(err, "A clinic with this name already exists")
}

// Update renames a clinic or changes its address (ADMIN).
func (s *Service) Update(ctx context.Context, st *repositories.Store, a models.Actor, id string, in ClinicInput) (*models.Clinic, error) {
	if err := policy.Can(a, policy.PermClinicsManage); err != nil {
		return nil, err
	}
	name, address, err := in.check(false)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	var out *models.Clinic
	err = st.Tx(func(tx *repositories.Store) error {
		if err := tx.Clinics.Update(id, repositories.ClinicChanges{Name: name, Address: address}, now); err != nil {
			return err
		}
		if err := audit.Record(tx, a, models.RoleAdmin, models.AuditClinicUpdate, models.EntityClinic, id, now); err != nil {
			return err
		}
		out, err = tx.Clinics.ByID(id)
		return err
	})
	return out, conflict(err, "A clinic with this name already exists")
}

// conflict gives a unique violation its message.
func conflict(err error, msg string) error {
	if errors.Is(err, models.ErrConflict) {
		return models.WithMessage(models.ErrConflict, msg)
	}
	return err
}
