package accounts

import (
	"aura/services/audit"
	"context"
	"slices"

	"aura/models"
	"aura/repositories"
)

// ListUsers is an admin's listing of accounts whose email or name contains q.
func (s *Service) ListUsers(ctx context.Context, st *repositories.Store, q string, page, pageSize int) (repositories.Page, error) {
	if len(q) > 255 || CheckName(q) != "" {
		return repositories.Page{}, models.Invalid(map[string]string{"q": "must be text of at most 255 characters"})
	}
	return st.Users.List(q, page, pageSize)
}

// UserChange is an admin's change of an account: roles (replacing them) and
// the active flag; nil leaves it as it is.
type UserChange struct {
	Roles    *[]string
	IsActive *bool
}

// UpdateUser applies an admin's change to user id. Deactivation revokes every
// session of the user; reactivation cancels a pending erasure (DeleteAccount)
// and is refused for an erased account (INVALID_STATE). At least one active
// ADMIN always remains: the rule is checked inside the transaction that makes
// the change, after taking the admins' lock, so two admins removing each other at the same moment cannot
// both succeed. Admins cannot demote or deactivate themselves either. Role
// and active changes are audited in the same transaction.
func (s *Service) UpdateUser(ctx context.Context, st *repositories.Store, a models.Actor, id string, ch UserChange) (*models.User, error) {
	details := map[string]string{}
	var roles []string
	if ch.Roles != nil {
		var msg string
		if roles, msg = Roles(*ch.Roles); msg != "" {
			details["roles"] = msg
		}
	}
	if id == a.UserID {
		if ch.IsActive != nil && !*ch.IsActive {
			details["isActive"] = "you cannot deactivate your own account"
		}
		if ch.Roles != nil && details["roles"] == "" && !slices.Contains(roles, models.RoleAdmin) {
			details["roles"] = "you cannot remove your own ADMIN role"
		}
	}
	if len(details) > 0 {
		return nil, models.Invalid(details)
	}
	now := s.Now()
	var out *models.User
	err := st.Tx(func(tx *repositories.Store) error {
		removesAdmin := (ch.IsActive != nil && !*ch.IsActive) || (ch.Roles != nil && !slices.Contains(roles, models.RoleAdmin))
		if removesAdmin {
			if err := tx.Users.LockAdmins(); err != nil {
				return err
			}
		}
		u, err := tx.Users.ByID(id)
		if err != nil {
			return err
		}
		if ch.IsActive != nil && *ch.IsActive != u.IsActive {
			if *ch.IsActive {
				// A pending erasure (the owner deleted the account) is
				// cancelled; an erased account cannot come back.
				if err := tx.Erasure.Reactivated(id); err != nil {
					return err
				}
			}
			if err := tx.Users.Update(id, repositories.Changes{IsActive: ch.IsActive}, now); err != nil {
				return err
			}
			u.IsActive = *ch.IsActive
			if err := audit.Record(tx, a, models.RoleAdmin, models.AuditUserActive, models.EntityUser, id, now); err != nil {
				return err
			}
			if !u.IsActive {
				if err := tx.Sessions.RevokeAllForUser(id, "", now); err != nil {
					return err
				}
			}
		}
		if ch.Roles != nil {
			if err := tx.Users.SetRoles(u, roles, now); err != nil {
				return err
			}
			if err := audit.Record(tx, a, models.RoleAdmin, models.AuditUserRoles, models.EntityUser, id, now); err != nil {
				return err
			}
		}
		if removesAdmin {
			n, err := tx.Users.CountActiveAdmins()
			if err != nil {
				return err
			}
			if n == 0 {
				field := "roles"
				if ch.IsActive != nil && !*ch.IsActive {
					field = "isActive"
				}
				return models.Invalid(map[string]string{field: "at least one active ADMIN must remain"})
			}
		}
		out = u
		return nil
	})
	return out, err
}
