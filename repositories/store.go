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
	Alerts        *Alerts
	Invitations   *Invitations
	Erasure       *Erasure
	Billing       *Billing
	Templates     *Templates
	Batches       *Batches
	Events        *Events
	Conversations *Conversations
}

// New builds every repository on db, which should carry the request's context
// (db.WithContext(ctx)). The Store and its repositories are one allocation:
// every authenticated request builds a Store, and eighteen small objects
// were a tenth of GET /api/auth/me's allocations.
func New(db *gorm.DB) *Store {
	b := &storeBlock{}
	b.users.db, b.sessions.db, b.limits.db, b.tokens.db, b.outbox.db = db, db, db, db, db
	b.clinics.db, b.doctors.db, b.members.db, b.patients.db, b.screenings.db = db, db, db, db, db
	b.audit.db, b.jobs.db, b.notifications.db, b.profiles.db, b.invitations.db = db, db, db, db, db
	b.erasure.db, b.billing.db, b.templates.db, b.alerts.db, b.batches.db = db, db, db, db, db
	b.events.db, b.conversations.db = db, db
	b.store = Store{
		db:       db,
		Users:    &b.users,
		Sessions: &b.sessions,
		Limits:   &b.limits,
		Tokens:   &b.tokens,
		Outbox:   &b.outbox,

		Clinics:       &b.clinics,
		Doctors:       &b.doctors,
		Members:       &b.members,
		Patients:      &b.patients,
		Screenings:    &b.screenings,
		Audit:         &b.audit,
		Jobs:          &b.jobs,
		Notifications: &b.notifications,
		Profiles:      &b.profiles,
		Invitations:   &b.invitations,
		Erasure:       &b.erasure,
		Billing:       &b.billing,
		Templates:     &b.templates,
		Alerts:        &b.alerts,
		Batches:       &b.batches,
		Events:        &b.events,
		Conversations: &b.conversations,
	}
	return &b.store
}

// storeBlock holds a Store and its repositories in one allocation.
type storeBlock struct {
	store         Store
	users         Users
	sessions      Sessions
	limits        Limits
	tokens        Tokens
	outbox        Outbox
	clinics       Clinics
	doctors       Doctors
	members       Members
	patients      Patients
	screenings    Screenings
	audit         Audit
	jobs          Jobs
	notifications Notifications
	profiles      Profiles
	invitations   Invitations
	erasure       Erasure
	billing       Billing
	templates     Templates
	alerts        Alerts
	batches       Batches
	events        Events
	conversations Conversations
}

// Context is the context the Store's handle carries.
func (s *Store) Context() context.Context {
	if s.db.Statement != nil && s.db.Statement.Context != nil {
		return s.db.Statement.Context
	}
	return context.Background()
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
