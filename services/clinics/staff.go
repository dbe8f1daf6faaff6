package clinics

import (
	"context"
	"slices"
	"strings"

	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/policy"
)

// StaffMember is one membership of a clinic, as its staff list shows it.
type StaffMember struct {
	UserID, FullName, Email, Role string
	LicenseNo                     *string
}

// Staff lists the members of a clinic, one row per membership role
// (CLINIC_ADMIN, then DOCTOR, then TECHNICIAN; each by email): to its staff
// and to ADMIN. A role that never reads staff: FORBIDDEN; a clinic the
// caller is no member of (or that does not exist): NOT_FOUND.
func (s *Service) Staff(ctx context.Context, st *repositories.Store, a models.Actor, clinicID string) ([]StaffMember, error) {
	if err := policy.CanIn(st, a, clinicID, policy.PermStaffRead); err != nil {
		return nil, err
	}
	if _, err := st.Clinics.ByID(clinicID); err != nil {
		return nil, err
	}
	rows, err := st.Members.Staff(clinicID)
	if err != nil {
		return nil, err
	}
	out := make([]StaffMember, len(rows))
	for i, r := range rows {
		name := models.Deref(r.FullName)
		if name == "" {
			name, _, _ = strings.Cut(r.Email, "@")
		}
		out[i] = StaffMember{UserID: r.UserID, FullName: name, Email: r.Email, Role: r.Role, LicenseNo: r.LicenseNo}
	}
	return out, nil
}

// msgLastClinicAdmin is why the last CLINIC_ADMIN of a clinic stays.
const msgLastClinicAdmin = "A clinic keeps at least one active CLINIC_ADMIN: make another member its CLINIC_ADMIN first"

// RemoveStaff ends userID's memberships of the clinic (CLINIC_ADMIN of it,
// ADMIN): every role they hold there, or only role when it is given (one
// of models.ClinicRoles, else VALIDATION_FAILED on role). The cases they
// had claimed there as its DOCTOR go back to awaiting_review. Not a member
// (in that role): NOT_FOUND. When it would leave the clinic with no active
// CLINIC_ADMIN, CONFLICT: the clinic's row is locked (PostgreSQL; SQLite
// serialises writers) before the check, so two admins removing each other
// at once cannot both succeed. The caller's own right is checked under the
// same lock. Audited, with each released case.
func (s *Service) RemoveStaff(ctx context.Context, st *repositories.Store, a models.Actor, clinicID, userID, role string) error {
	if err := policy.Can(a, policy.PermStaffRemove); err != nil {
		return err
	}
	if role != "" && !slices.Contains(models.ClinicRoles, role) {
		return models.Invalid(map[string]string{"role": "must be one of " + strings.Join(models.ClinicRoles, ", ")})
	}
	actorRole := models.RoleClinicAdmin
	if a.Has(models.RoleAdmin) {
		actorRole = models.RoleAdmin
	}
	now := s.Clock.Now()
	return st.Tx(func(tx *repositories.Store) error {
		if err := tx.Clinics.Lock(clinicID); err != nil {
			return err
		}
		if err := policy.CanIn(tx, a, clinicID, policy.PermStaffRemove); err != nil {
			return err
		}
		held, err := tx.Members.RolesIn(clinicID, userID)
		if err != nil {
			return err
		}
		roles := held
		if role != "" {
			roles = nil
			if slices.Contains(held, role) {
				roles = []string{role}
			}
		}
		if len(roles) == 0 {
			return models.ErrNotFound
		}
		if slices.Contains(roles, models.RoleClinicAdmin) {
			u, err := tx.Users.ByID(userID)
			if err != nil {
				return err
			}
			others, err := tx.Members.CountActiveOthers(clinicID, models.RoleClinicAdmin, userID)
			if err != nil {
				return err
			}
			if u.IsActive && others == 0 {
				return models.WithMessage(models.ErrConflict, msgLastClinicAdmin)
			}
		}
		for _, r := range roles {
			if err := tx.Members.Remove(clinicID, userID, r); err != nil {
				return err
			}
		}
		if slices.Contains(roles, models.RoleDoctor) {
			released, err := tx.Screenings.ReleaseClaims(clinicID, userID, now)
			if err != nil {
				return err
			}
			for _, id := range released {
				if err := audit.Record(tx, a, actorRole, models.AuditRelease, models.EntityScreening, id, now); err != nil {
					return err
				}
			}
		}
		if err := audit.Record(tx, a, actorRole, models.AuditStaffRemove, models.EntityClinic, clinicID, now); err != nil {
			return err
		}
		return audit.Record(tx, a, actorRole, models.AuditStaffRemove, models.EntityUser, userID, now)
	})
}
