// Package repositories is AURA's data access. Every repository is built on the
// *gorm.DB it is handed (a request's session or a transaction begun from it);
// there is no package-level handle. Database errors leave this package as the
// domain errors of package models.
package repositories

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"aura/models"
)

// Store groups the repositories built on one handle.
type Store struct {
	db       *gorm.DB
	Users    *Users
	Sessions *Sessions
	Limits   *Limits
	Tokens   *Tokens
	Outbox   *Outbox

	Clinics       *Clinics
	Doctors       *Doctors
	Members       *Members
	Patients      *Patients
	Screenings    *Screenings
	Audit         *Audit
	Jobs          *Jobs
	Notifications *Notifications
	Profiles      *Profiles
	Invitations   *Invitations
	Erasure       *Erasure
	Billing       *Billing
	Events        *Events
	Conversations *Conversations
}

// New builds every repository on db, which should carry the request's context
// (db.WithContext(ctx)).
func New(db *gorm.DB) *Store {
	return &Store{
		db:       db,
		Users:    &Users{db: db},
		Sessions: &Sessions{db: db},
		Limits:   &Limits{db: db},
		Tokens:   &Tokens{db: db},
		Outbox:   &Outbox{db: db},

		Clinics:       &Clinics{db: db},
		Doctors:       &Doctors{db: db},
		Members:       &Members{db: db},
		Patients:      &Patients{db: db},
		Screenings:    &Screenings{db: db},
		Audit:         &Audit{db: db},
		Jobs:          &Jobs{db: db},
		Notifications: &Notifications{db: db},
		Profiles:      &Profiles{db: db},
		Invitations:   &Invitations{db: db},
		Erasure:       &Erasure{db: db},
		Billing:       &Billing{db: db},
		Events:        &Events{db: db},
		Conversations: &Conversations{db: db},
	}
}

// Tx runs fn on a Store bound to one transaction begun from this Store's
// handle; fn's error (or a panic) rolls it back. Inside fn use only the Store
// passed in: on a one-connection pool, the outer handle would wait forever.
func (s *Store) Tx(fn func(tx *Store) error) error {
	return translate(s.db.Transaction(func(tx *gorm.DB) error { return fn(New(tx)) }))
}

// translate maps GORM and driver errors to domain errors, keeping the cause
// for logs.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return models.ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%w: %w", models.ErrConflict, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), unavailable(err):
		return fmt.Errorf("%w: %w", models.ErrUnavailable, err)
	}
	return err
}
