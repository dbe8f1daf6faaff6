package accounts

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/security"
)

// RegisterInput is a sign-up: fullName is optional (nil: the email's local part).
type RegisterInput struct {
	Email    string
	Password string
	FullName *string
}

// NewAccount is an account about to be created, by sign-up or by an operator.
type NewAccount struct {
	Email    string
	Password string
	FullName *string
	Roles    []string
	// Verified counts the email as verified (an operator vouches for it).
	Verified bool
}

// Register creates a PATIENT account, queues its verification mail and starts
// its first session, in one transaction. Sign-ups are limited per client
// address (limits.register): a slot is taken before the password is hashed.
func (s *Service) Register(ctx context.Context, st *repositories.Store, in RegisterInput, cl Client) (*Session, error) {
	u, err := s.prepare(NewAccount{Email: in.Email, Password: in.Password, FullName: in.FullName, Roles: []string{models.RolePatient}})
	if err != nil {
		return nil, err
	}
	if cl.Lang != "" {
		lang := cl.Lang
		u.Lang = &lang
	}
	wait, err := st.Limits.Claim(registerAddressKey(cl.IP), s.Settings.RegisterMax, s.Settings.RegisterWindow, s.Now())
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		s.rateLimited(LimitRegisterAddress)
		return nil, models.RateLimited(wait)
	}
	if err := s.hash(ctx, u, in.Password); err != nil {
		return nil, err
	}
	var sess *Session
	err = st.Tx(func(tx *repositories.Store) error {
		if err := tx.Users.Create(u, models.RolePatient); err != nil {
			return err
		}
		if err := s.queueVerification(tx, u, u.CreatedAt); err != nil {
			return err
		}
		sess, err = s.startSession(tx, u, cl, u.CreatedAt)
		return err
	})
	return sess, err
}

// Create makes an account with the given roles, as an operator does from the
// command line (the first admin): the same email, name and password rules as
// sign-up, no session, no mail.
func (s *Service) Create(ctx context.Context, st *repositories.Store, in NewAccount) (*models.User, error) {
	u, err := s.prepare(in)
	if err != nil {
		return nil, err
	}
	if err := s.hash(ctx, u, in.Password); err != nil {
		return nil, err
	}
	err = st.Tx(func(tx *repositories.Store) error { return tx.Users.Create(u, u.RoleNames()...) })
	return u, err
}

// prepare validates a new account and returns its user (without a password
// hash yet), or VALIDATION_FAILED naming each field at fault.
func (s *Service) prepare(in NewAccount) (*models.User, error) {
	details := map[string]string{}
	email, key, err := models.NormalizeEmail(in.Email)
	if err != nil {
		details["email"] = err.Error()
	}
	name := localPart(email)
	if in.FullName != nil {
		if msg := CheckName(*in.FullName); msg != "" {
			details["fullName"] = msg
		} else if n := strings.TrimSpace(*in.FullName); n != "" {
			name = n
		}
	}
	if in.Password == "" {
		details["password"] = "is required"
	} else if msg := security.CheckPassword(in.Password, email, name, s.Settings.PasswordMinLength); msg != "" {
		details["password"] = msg
	}
	roles, msg := Roles(in.Roles)
	if msg != "" {
		details["roles"] = msg
	}
	if len(details) > 0 {
		return nil, models.Invalid(details)
	}
	now := s.Now()
	u := &models.User{
		ID: uuid.NewString(), Email: email, EmailNormalized: &key, FullName: &name, IsActive: true, CreatedAt: now,
	}
	if in.Verified {
		u.EmailVerified, u.EmailVerifiedAt = true, &now
	}
	for _, r := range roles {
		u.Roles = append(u.Roles, models.Role{Name: r})
	}
	return u, nil
}

func (s *Service) hash(ctx context.Context, u *models.User, password string) error {
	h, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return unavailableOr(err)
	}
	u.PasswordHash = h
	return nil
}
