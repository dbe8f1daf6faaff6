package handlers

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"aura/models"
	"aura/services/accounts"
)

// Page sizes of GET /api/admin/users.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// ListUsers is GET /api/admin/users?q=&page=&pageSize=.
func (d *Deps) ListUsers(c *gin.Context) error {
	page, size, err := pageQuery(c)
	if err != nil {
		return err
	}
	p, err := d.Accounts.ListUsers(c.Request.Context(), store(c), c.Query("q"), page, size)
	if err != nil {
		return err
	}
	items := make([]UserView, len(p.Items))
	for i, u := range p.Items {
		items[i] = userView(u, true)
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": p.Total, "page": page, "pageSize": size}, "")
	return nil
}

// intQuery reads a whole-number query parameter within [lo, hi], noting a
// bad one in details.
func intQuery(c *gin.Context, name string, def, lo, hi int, details map[string]string) int {
	raw, ok := c.GetQuery(name)
	if !ok || raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		details[name] = "must be a whole number from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)
		return def
	}
	return n
}

// pageQuery reads a list's page (from 1) and pageSize (1 to maxPageSize,
// default defaultPageSize), the paging every list shares: VALIDATION_FAILED
// naming each bad one.
func pageQuery(c *gin.Context) (page, size int, err error) {
	details := map[string]string{}
	page = intQuery(c, "page", 1, 1, 1_000_000, details)
	size = intQuery(c, "pageSize", defaultPageSize, 1, maxPageSize, details)
	if len(details) > 0 {
		return 0, 0, models.Invalid(details)
	}
	return page, size, nil
}

type adminUpdateRequest struct {
	Roles    *[]string `json:"roles"`
	IsActive *bool     `json:"isActive"`
}

// UpdateUser is PATCH /api/admin/users/{id}: roles and isActive.
func (d *Deps) UpdateUser(c *gin.Context) error {
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return errNotFound
	}
	var req adminUpdateRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	u, err := d.Accounts.UpdateUser(c.Request.Context(), store(c), actor(c), id,
		accounts.UserChange{Roles: req.Roles, IsActive: req.IsActive})
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, userView(u, true), "User updated")
	return nil
}
