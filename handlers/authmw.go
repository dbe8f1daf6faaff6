package handlers

import (
	"strings"

	"github.com/gin-gonic/gin"

	"aura/models"
	"aura/security"
	"aura/services/policy"
	"aura/services/screenings"
)

const (
	userKey     = "aura.user"
	claimsKey   = "aura.claims"
	operatorKey = "aura.operator"
)

// RequireAuth admits requests with a valid bearer access token whose session
// is live and whose user exists and is active; the user (with roles, read
// fresh from the database in the same round trip) is kept for the handler.
func (d *Deps) RequireAuth(c *gin.Context) error {
	u, claims, err := d.authenticate(c)
	if err != nil {
		return err
	}
	c.Set(userKey, u)
	c.Set(claimsKey, claims)
	c.Next()
	return nil
}

// bearerToken is the request's bearer token, if it sent one.
func bearerToken(c *gin.Context) (string, bool) {
	scheme, token, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// authenticate checks the request's bearer token (signature, algorithm,
// expiry) and, on the request's database session, that its session is live
// and its user exists and is active. Errors: errUnauthorized, errDisabled,
// or the database's.
func (d *Deps) authenticate(c *gin.Context) (*models.User, *security.Claims, error) {
	token, ok := bearerToken(c)
	if !ok {
		return nil, nil, errUnauthorized
	}
	if screenings.IsDeviceToken(token) {
		return nil, nil, errForbidden // a device only stores DICOM objects
	}
	return d.Accounts.Authenticate(store(c), token)
}

// RequirePermission admits authenticated users one of whose roles carries
// p in the permission table (policy); others get 403.
func RequirePermission(p policy.Permission) Handler {
	return func(c *gin.Context) error {
		return policy.Can(actor(c), p)
	}
}

// Operator marks a request as an operator's when it bears the access token
// of an active ADMIN, checked as RequireAuth checks (session and roles read
// from the database). It never refuses: a request without a token, with a
// bad one, of another role, or that cannot be checked (the database is
// down) goes on as anonymous. Mount it behind WithToken(session).
func (d *Deps) Operator(c *gin.Context) error {
	if _, ok := c.Get(StoreKey); !ok {
		return nil
	}
	if u, _, err := d.authenticate(c); err == nil && u.HasRole(models.RoleAdmin) {
		c.Set(operatorKey, true)
	}
	return nil
}

// WithToken runs mw (the database session) only for requests that bear a
// token, so anonymous callers, such as load balancers, never use one.
func WithToken(mw gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := bearerToken(c); ok {
			mw(c)
			return
		}
		c.Next()
	}
}

func isOperator(c *gin.Context) bool { return c.GetBool(operatorKey) }

func currentUser(c *gin.Context) *models.User { return c.MustGet(userKey).(*models.User) }

func currentClaims(c *gin.Context) *security.Claims {
	return c.MustGet(claimsKey).(*security.Claims)
}
