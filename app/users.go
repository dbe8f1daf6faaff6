package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/security"
)

// CreateUser makes an account from the command line (the first admin, say):
// the same email and password rules as sign-up, the given roles, and the
// email counted as verified since the operator vouches for it.
func (a *App) CreateUser(ctx context.Context, email, password, fullName string, roles []string) (*models.User, error) {
	stored, key, err := models.NormalizeEmail(email)
	if err != nil {
		return nil, fmt.Errorf("--email: %w", err)
	}
	if fullName = strings.TrimSpace(fullName); fullName == "" {
		fullName, _, _ = strings.Cut(stored, "@")
	}
	if msg := security.CheckPassword(password, stored, fullName, a.Cfg.Auth.PasswordMinLength); msg != "" {
		return nil, fmt.Errorf("password %s", msg)
	}
	for i, r := range roles {
		roles[i] = strings.ToUpper(strings.TrimSpace(r))
		if roles[i] != models.RolePatient && roles[i] != models.RoleDoctor && roles[i] != models.RoleAdmin {
			return nil, fmt.Errorf("--role %q: accepted: PATIENT, DOCTOR, ADMIN", r)
		}
	}
	hash, err := a.Deps().Hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	u := &models.User{ID: uuid.NewString(), Email: stored, EmailNormalized: &key, PasswordHash: hash,
		FullName: &fullName, IsActive: true, EmailVerified: true, EmailVerifiedAt: &now, CreatedAt: now}
	err = repositories.New(a.DB.WithContext(ctx)).Tx(func(tx *repositories.Store) error {
		return tx.Users.Create(u, roles...)
	})
	if errors.Is(err, models.ErrEmailTaken) {
		return nil, fmt.Errorf("--email: an account with this email already exists")
	}
	return u, err
}
