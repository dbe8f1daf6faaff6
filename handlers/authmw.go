package handlers

import (
	"strings"

	"github.com/gin-gonic/gin"

	"aura/models"
	"aura/security"
)

const (
	userKey   = "aura.user"
	claimsKey = "aura.claims"
)

// RequireAuth admits requests with a valid bearer access token whose session
// is live and whose user exists and is active; the user (with roles, read
// fresh from the database in the same round trip) is kept for the handler.
func (d *Deps) RequireAuth(c *gin.Context) {
	h := c.GetHeader("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		Fail(c, errUnauthorized)
		return
	}
	u, claims, err := d.Accounts.Authenticate(store(c), strings.TrimSpace(token))
	if err != nil {
		Fail(c, err)
		return
	}
	c.Set(userKey, u)
	c.Set(claimsKey, claims)
	c.Next()
}

// RequireRole admits authenticated users holding role; others get 403.
func RequireRole(role string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !currentUser(c).HasRole(role) {
			Fail(c, errForbidden)
			return
		}
		c.Next()
	}
}

func currentUser(c *gin.Context) *models.User { return c.MustGet(userKey).(*models.User) }

func currentClaims(c *gin.Context) *security.Claims {
	return c.MustGet(claimsKey).(*security.Claims)
}
