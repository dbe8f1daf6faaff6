package accounts

import (
	"context"
	"errors"

	"aura/models"
	"aura/repositories"
	"aura/security"
)

// ChangePasswordInput is a password change by a signed-in user.
type ChangePasswordInput struct {
	CurrentPassword string
	NewPassword     string
	ConfirmPassword string
}

// ChangePassword replaces u's password after checking the current one (an
// attempt counted against the account's login limit before it is checked),
// revokes u's other sessions, voids outstanding reset links and queues a
// notice, in one transaction.
func (s *Service) ChangePassword(ctx context.Context, st *repositories.Store, u *models.User, sessionID string, in ChangePasswordInput) error {
	if missing := required(map[string]string{"currentPassword": in.CurrentPassword, "newPassword": in.NewPassword, "confirmPassword": in.ConfirmPassword}); missing != nil {
		return models.Invalid(missing)
	}
	held, err := s.claimLogin(st, loginAccountKey(emailKey(u)))
	if err != nil {
		return err
	}
	ok, _, err := s.Hasher.Verify(ctx, in.CurrentPassword, u.PasswordHash)
	if err != nil && !errors.Is(err, security.ErrMalformedHash) {
		held.release()
		return unavailableOr(err)
	}
	if !ok {
		return models.WithMessage(models.ErrBadCredentials, "Current password is incorrect")
	}
	held.release()
	if msg := s.newPasswordProblems(in.NewPassword, in.ConfirmPassword, u); len(msg) > 0 {
		return models.Invalid(msg)
	}
	if in.NewPassword == in.CurrentPassword {
		return models.Invalid(map[string]string{"newPassword": "must differ from the current password"})
	}
	hash, err := s.Hasher.Hash(ctx, in.NewPassword)
	if err != nil {
		return unavailableOr(err)
	}
	now := s.Now()
	return st.Tx(func(tx *repositories.Store) error {
		if err := tx.Users.Update(u.ID, repositories.Changes{PasswordHash: &hash}, now); err != nil {
			return err
		}
		if err := tx.Sessions.RevokeAllForUser(u.ID, sessionID, now); err != nil {
			return err
		}
		if err := tx.Tokens.VoidAll(u.ID, models.PurposeResetPassword, now); err != nil {
			return err
		}
		return s.queuePasswordChanged(tx, u, now)
	})
}

// ResetPasswordInput is a password reset with an emailed token.
type ResetPasswordInput struct {
	Token           string
	NewPassword     string
	ConfirmPassword string
}

// ResetPassword sets a new password with a reset token, revokes every session
// of the account, voids its other reset links, lifts its login block and
// queues a notice. A refused password (the current one among them) leaves
// the link usable.
func (s *Service) ResetPassword(ctx context.Context, st *repositories.Store, in ResetPasswordInput) error {
	if missing := required(map[string]string{"token": in.Token, "newPassword": in.NewPassword, "confirmPassword": in.ConfirmPassword}); missing != nil {
		return models.Invalid(missing)
	}
	if !security.PlausibleToken(in.Token, actionTokenBytes) {
		return models.ErrTokenInvalid
	}
	now, hash := s.Now(), security.HashToken(in.Token)
	// Look first, burn later: a refused password leaves the link usable.
	userID, err := st.Tokens.Peek(models.PurposeResetPassword, hash, now)
	if err != nil {
		return err
	}
	u, err := st.Users.ByID(userID)
	if errors.Is(err, models.ErrNotFound) {
		return models.ErrTokenInvalid
	}
	if err != nil {
		return err
	}
	if msg := s.newPasswordProblems(in.NewPassword, in.ConfirmPassword, u); len(msg) > 0 {
		return models.Invalid(msg)
	}
	// Refused as in change-password, before the token is burnt.
	same, _, err := s.Hasher.Verify(ctx, in.NewPassword, u.PasswordHash)
	if err != nil && !errors.Is(err, security.ErrMalformedHash) {
		return unavailableOr(err)
	}
	if same {
		return models.Invalid(map[string]string{"newPassword": "must differ from the current password"})
	}
	pwHash, err := s.Hasher.Hash(ctx, in.NewPassword)
	if err != nil {
		return unavailableOr(err)
	}
	return st.Tx(func(tx *repositories.Store) error {
		// The conditional update is the claim: of concurrent resets with one
		// token, exactly one gets here with the token still live.
		if _, err := tx.Tokens.Consume(models.PurposeResetPassword, hash, now); err != nil {
			return err
		}
		if err := tx.Users.Update(u.ID, repositories.Changes{PasswordHash: &pwHash}, now); err != nil {
			return err
		}
		if err := tx.Tokens.VoidAll(u.ID, models.PurposeResetPassword, now); err != nil {
			return err
		}
		if err := tx.Sessions.RevokeAllForUser(u.ID, "", now); err != nil {
			return err
		}
		if err := tx.Limits.Clear(loginAccountKey(emailKey(u))); err != nil {
			return err
		}
		return s.queuePasswordChanged(tx, u, now)
	})
}
