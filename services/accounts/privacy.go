package accounts

import (
	"context"
	"errors"
	"strings"
	"time"

	"aura/models"
	"aura/repositories"
	"aura/security"
	"aura/services/audit"
	"aura/services/policy"
)

// DeleteAccountInput is a patient's request to delete their account: the
// password, or, for an account without one (made by Google sign-in), the
// account's email address typed again as Confirm.
type DeleteAccountInput struct {
	Password string
	Confirm  string
}

// RecentSignIn is how fresh the session of an account without a password
// must be to delete the account: signing in again is its proof of identity.
const RecentSignIn = 15 * time.Minute

// DefaultErasureGrace is the grace period when Settings.ErasureGrace is unset.
const DefaultErasureGrace = 30 * 24 * time.Hour

// DeleteAccount deactivates the caller's account at once and schedules the
// erasure of its personal data after Settings.ErasureGrace (housekeeping
// carries it out); it returns when. Only a PATIENT account may do this, and
// only one holding no other role: staff and admins are removed by an admin
// (so the last ADMIN can never delete themselves). The password is checked
// as change-password checks it (counted against the account's login limit;
// wrong: INVALID_CREDENTIALS). An account without a password must have
// signed in within RecentSignIn (else INVALID_CREDENTIALS) and type its
// email as confirm. Every session is revoked and pending links voided in
// the same transaction, which is audited (patient.delete).
func (s *Service) DeleteAccount(ctx context.Context, st *repositories.Store, u *models.User, a models.Actor, sessionID string, in DeleteAccountInput) (time.Time, error) {
	if err := policy.Can(a, policy.PermOwnProfile); err != nil {
		return time.Time{}, err
	}
	for _, r := range u.Roles {
		if r.Name != models.RolePatient {
			return time.Time{}, models.WithMessage(models.ErrForbidden,
				"An account that holds a staff or admin role cannot be deleted here; an admin removes those roles first")
		}
	}
	now := s.Now()
	if u.PasswordHash == security.NoPassword {
		if in.Confirm == "" {
			return time.Time{}, models.Invalid(map[string]string{"confirm": "is required for an account without a password: type the account's email address"})
		}
		if !strings.EqualFold(strings.TrimSpace(in.Confirm), strings.TrimSpace(u.Email)) {
			return time.Time{}, models.Invalid(map[string]string{"confirm": "must be the account's email address"})
		}
		started, err := st.Erasure.SessionStarted(u.ID, sessionID, now)
		if err != nil && !errors.Is(err, models.ErrNotFound) {
			return time.Time{}, err
		}
		if err != nil || now.Sub(started) > RecentSignIn {
			return time.Time{}, models.WithMessage(models.ErrBadCredentials,
				"Sign in again, then delete the account within 15 minutes")
		}
	} else {
		if in.Password == "" {
			return time.Time{}, models.Invalid(map[string]string{"password": "is required"})
		}
		held, err := s.claimLogin(st, loginAccountKey(emailKey(u)))
		if err != nil {
			return time.Time{}, err
		}
		ok, _, err := s.Hasher.Verify(ctx, in.Password, u.PasswordHash)
		if err != nil && !errors.Is(err, security.ErrMalformedHash) {
			held.release()
			return time.Time{}, unavailableOr(err)
		}
		if !ok {
			return time.Time{}, models.WithMessage(models.ErrBadCredentials, "Password is incorrect")
		}
		held.release()
	}
	grace := s.Settings.ErasureGrace
	if grace <= 0 {
		grace = DefaultErasureGrace
	}
	at := now.Add(grace)
	err := st.Tx(func(tx *repositories.Store) error {
		if err := tx.Erasure.Schedule(u.ID, at, now); err != nil {
			return err
		}
		if err := tx.Sessions.RevokeAllForUser(u.ID, "", now); err != nil {
			return err
		}
		for _, purpose := range []string{models.PurposeResetPassword, models.PurposeVerifyEmail} {
			if err := tx.Tokens.VoidAll(u.ID, purpose, now); err != nil {
				return err
			}
		}
		return audit.Record(tx, a, models.RolePatient, models.AuditPatientDelete, models.EntityUser, u.ID, now)
	})
	return at, err
}
