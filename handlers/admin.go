package handlers

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
)

// Page sizes of GET /api/admin/users.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// ListUsers is GET /api/admin/users?q=&page=&pageSize=.
func (d *Deps) ListUsers(c *gin.Context) {
	details := map[string]string{}
	page := intQuery(c, "page", 1, 1, 1_000_000, details)
	size := intQuery(c, "pageSize", defaultPageSize, 1, maxPageSize, details)
	q := c.Query("q")
	if len(q) > 255 || checkName(q) != "" {
		details["q"] = "must be text of at most 255 characters"
	}
	if len(details) > 0 {
		Fail(c, Invalid(details))
		return
	}
	p, err := store(c).Users.List(q, page, size)
	if err != nil {
		Fail(c, err)
		return
	}
	items := make([]UserView, len(p.Items))
	for i, u := range p.Items {
		items[i] = userView(u, true)
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": p.Total, "page": page, "pageSize": size}, "")
}

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

type adminUpdateRequest struct {
	Roles    *[]string `json:"roles"`
	IsActive *bool     `json:"isActive"`
}

// UpdateUser is PATCH /api/admin/users/{id}: roles and isActive. Deactivation
// revokes every session of the user. Admins cannot demote or deactivate
// themselves, so the last admin cannot lock everyone out.
func (d *Deps) UpdateUser(c *gin.Context) {
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		Fail(c, errNotFound)
		return
	}
	var req adminUpdateRequest
	if err := Bind(c, &req, false); err != nil {
		Fail(c, err)
		return
	}
	details := map[string]string{}
	var roles []string
	if req.Roles != nil {
		seen := map[string]bool{}
		for _, r := range *req.Roles {
			if r != models.RolePatient && r != models.RoleDoctor && r != models.RoleAdmin {
				details["roles"] = "each role must be one of PATIENT, DOCTOR, ADMIN"
				break
			}
			if !seen[r] {
				seen[r] = true
				roles = append(roles, r)
			}
		}
		if len(roles) == 0 && details["roles"] == "" {
			details["roles"] = "must name at least one role"
		}
	}
	me := currentUser(c)
	if id == me.ID {
		if req.IsActive != nil && !*req.IsActive {
			details["isActive"] = "you cannot deactivate your own account"
		}
		if req.Roles != nil && !contains(roles, models.RoleAdmin) {
			details["roles"] = "you cannot remove your own ADMIN role"
		}
	}
	if len(details) > 0 {
		Fail(c, Invalid(details))
		return
	}
	now := d.now()
	var out *models.User
	err := store(c).Tx(func(tx *repositories.Store) error {
		u, err := tx.Users.ByID(id)
		if err != nil {
			return err
		}
		if req.IsActive != nil && *req.IsActive != u.IsActive {
			if err := tx.Users.Update(id, map[string]any{"is_active": *req.IsActive}); err != nil {
				return err
			}
			u.IsActive = *req.IsActive
			if !u.IsActive {
				if err := tx.Sessions.RevokeAllForUser(id, "", now); err != nil {
					return err
				}
			}
		}
		if req.Roles != nil {
			if err := tx.Users.SetRoles(u, roles); err != nil {
				return err
			}
		}
		out = u
		return nil
	})
	if err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, userView(out, true), "User updated")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
