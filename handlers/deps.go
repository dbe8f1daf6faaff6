package handlers

import (
	"time"

	"github.com/gin-gonic/gin"

	"aura/repositories"
	"aura/security"
)

// Settings are the values of the configuration the handlers need; app fills
// them from config.Config so handlers do not read configuration themselves.
type Settings struct {
	Engine            string
	RefreshTTL        time.Duration
	VerificationTTL   time.Duration
	ResetTTL          time.Duration
	PasswordMinLength int
	LoginMaxFailures  int
	LoginWindow       time.Duration
	EmailInterval     time.Duration
	FrontendURL       string
	// Version is AURA's version, shown to operators by GET /api/health.
	Version string
}

// Deps is what the handlers are built on.
type Deps struct {
	Settings Settings
	Hasher   *security.Hasher
	JWT      *security.JWT
	// Probe pings the database for GET /api/health.
	Probe *repositories.Probe
	// Now is the clock (UTC); tests may move it.
	Now func() time.Time
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

// StoreKey is where the session middleware keeps the request's Store.
const StoreKey = "aura.store"

// store returns the repositories built on the request's database session.
func store(c *gin.Context) *repositories.Store {
	return c.MustGet(StoreKey).(*repositories.Store)
}
