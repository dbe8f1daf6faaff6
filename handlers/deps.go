package handlers

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"

	"aura/events"
	"aura/repositories"
	"aura/services/accounts"
	"aura/services/alerts"
	"aura/services/audit"
	"aura/services/billing"
	"aura/services/clinics"
	"aura/services/conversations"
	"aura/services/notifications"
	"aura/services/patients"
	"aura/services/privacy"
	"aura/services/screenings"
	"aura/services/templates"
)

// Deps is what the handlers are built on: the rules they call and the probe
// of GET /api/health.
type Deps struct {
	// Engine names the database engine, as health reports it.
	Engine string
	// Version is what runs, shown to operators by GET /api/health.
	Version       VersionView
	Accounts      *accounts.Service
	Clinics       *clinics.Service
	Patients      *patients.Service
	Audit         *audit.Service
	Screenings    *screenings.Service
	Alerts        *alerts.Service
	Notifications *notifications.Service
	// Templates are the admins' mail and notice texts.
	Templates     *templates.Service
	Conversations *conversations.Service
	// Hub delivers the live updates of GET /api/events (nil: the endpoint
	// answers 404); EventSettings steer its streams.
	Hub           *events.Hub
	EventSettings EventSettings
	// Privacy exports a patient's data (the deletion is Accounts').
	Privacy *privacy.Service
	// Billing is the credit ledger. With BillingOff its endpoints answer
	// 404, but for the wallets and the admin's grants (to seed wallets
	// before billing is turned on).
	Billing    *billing.Ledger
	BillingOff bool
	// ExportWriteTimeout is how long an export may wait on a client that
	// reads nothing (server.write_timeout), counted again as it progresses.
	ExportWriteTimeout time.Duration
	// PseudonymKey is privacy.pseudonym_key decoded: the key of the
	// research export's pseudonyms; nil: that export answers 503.
	PseudonymKey []byte
	// Intake bounds one request of a batch's items (intake.*).
	Intake screenings.BatchLimits
	// Probe pings the database for GET /api/health.
	Probe *repositories.Probe
	// Storage is the image store, pinged for the operator view of GET
	// /api/health; nil: not reported.
	Storage StorageProbe
}

// StorageProbe is what health asks of the image store (a *storage.Store).
type StorageProbe interface {
	Ping(ctx context.Context) error
	Driver() string
}

// StoreKey is where the session middleware keeps the request's Store.
const StoreKey = "aura.store"

// RenewKey is where the session middleware keeps the function that starts a
// new database session for the request (func() *repositories.Store).
const RenewKey = "aura.store.renew"

// renewStore starts a new database session for the request, its deadline
// counting from now: for a handler that has spent a while reading the body.
func renewStore(c *gin.Context) *repositories.Store {
	if f, ok := c.Get(RenewKey); ok {
		return f.(func() *repositories.Store)()
	}
	return store(c)
}

// store returns the repositories built on the request's database session.
func store(c *gin.Context) *repositories.Store {
	return c.MustGet(StoreKey).(*repositories.Store)
}

// client is the caller as the rules see it.
func client(c *gin.Context) accounts.Client {
	return accounts.Client{IP: c.ClientIP(), UserAgent: c.Request.UserAgent(), Lang: lang(c)}
}
