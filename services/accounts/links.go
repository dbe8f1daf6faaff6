package accounts

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"aura/mail"
	"aura/models"
	"aura/repositories"
	"aura/security"
)

// actionTokenBytes is the randomness of a verification or reset token (256
// bits; the contract asks for at least 128).
const actionTokenBytes = 32

// errMailLimited rolls back a transaction whose mail the per-address limit
// refused.
var errMailLimited = errors.New("mail limited")

// acquireMail takes the address's mail slot (limits.email.interval) in tx:
// errMailLimited when a mail went to it too recently.
func (s *Service) acquireMail(tx *repositories.Store, key string, now time.Time) error {
	ok, err := tx.Limits.Acquire(mailKey(key), s.Settings.EmailInterval, now)
	if err != nil {
		return err
	}
	if !ok {
		return errMailLimited
	}
	return nil
}

// queueToken issues a token of purpose for u (superseding older ones) and
// queues the mail that carries its link, in tx.
func (s *Service) queueToken(tx *repositories.Store, u *models.User, purpose string, ttl time.Duration, path string, now time.Time) error {
	raw := security.NewOpaqueToken(actionTokenBytes)
	if err := tx.Tokens.Issue(&models.ActionToken{
		ID: uuid.NewString(), UserID: u.ID, Purpose: purpose, TokenHash: security.HashToken(raw),
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}); err != nil {
		return err
	}
	msg, err := mail.Compose(purpose, u.Email, mail.Data{
		Name: DisplayName(u), Link: mail.Link(s.Settings.FrontendURL, path, raw), ValidFor: ttl, Lang: s.langOf(u),
	}, now)
	if err != nil {
		return err
	}
	return tx.Outbox.Enqueue(msg)
}

func (s *Service) queueVerifyLink(tx *repositories.Store, u *models.User, now time.Time) error {
	return s.queueToken(tx, u, models.PurposeVerifyEmail, s.Settings.VerificationTTL, "/verify-email", now)
}

// queueVerification queues the verification mail of a new account. It takes
// the address's mail slot so an immediate resend is limited, but sends even
// when the slot was taken (by resends of the address before it had an
// account): a new account always gets its link.
func (s *Service) queueVerification(tx *repositories.Store, u *models.User, now time.Time) error {
	if err := s.acquireMail(tx, emailKey(u), now); err != nil && !errors.Is(err, errMailLimited) {
		return err
	}
	return s.queueVerifyLink(tx, u, now)
}

// queuePasswordChanged queues the "your password was changed" notice; the
// mail limit never suppresses it.
func (s *Service) queuePasswordChanged(tx *repositories.Store, u *models.User, now time.Time) error {
	msg, err := mail.Compose(models.MailPasswordChanged, u.Email, mail.Data{
		Name: DisplayName(u), Link: s.Settings.FrontendURL, When: now, Lang: s.langOf(u),
	}, now)
	if err != nil {
		return err
	}
	return tx.Outbox.Enqueue(msg)
}

// mailLimited answers a mail refused by the per-address limit: RATE_LIMITED
// with the wait until the address's slot frees.
func (s *Service) mailLimited(st *repositories.Store, key string) error {
	now := s.Now()
	wait, err := st.Limits.Blocked(mailKey(key), 1, now)
	if err != nil || wait <= 0 {
		wait = s.Settings.EmailInterval
	}
	s.rateLimited(LimitEmail)
	return models.RateLimited(wait)
}

// SendVerification queues a fresh verification link for u (the caller).
func (s *Service) SendVerification(ctx context.Context, st *repositories.Store, u *models.User) error {
	if u.EmailVerified {
		return models.Invalid(map[string]string{"email": "is already verified"})
	}
	now, key := s.Now(), emailKey(u)
	err := st.Tx(func(tx *repositories.Store) error {
		if err := s.acquireMail(tx, key, now); err != nil {
			return err
		}
		return s.queueVerifyLink(tx, u, now)
	})
	if errors.Is(err, errMailLimited) {
		return s.mailLimited(st, key)
	}
	return err
}

// emailKeyOf validates an address typed into a by-address endpoint.
func emailKeyOf(email string) (string, error) {
	_, key, err := models.NormalizeEmail(email)
	if err != nil {
		msg := err.Error()
		if email == "" {
			msg = "is required"
		}
		return "", models.Invalid(map[string]string{"email": msg})
	}
	return key, nil
}

// byAddress runs the common part of resend-verification and forgot-password:
// the mail limit on the address typed (whether or not it has an account),
// then send(u) for an active account of that address. Known and unknown
// addresses answer alike: the same nil (over the mail limit too, since a 429
// would tell a watcher that this address asked recently), and no sooner than
// ByAddressFloor after the call began, so timing does not tell them apart.
func (s *Service) byAddress(ctx context.Context, st *repositories.Store, email string, send func(tx *repositories.Store, u *models.User, now time.Time) error) error {
	key, err := emailKeyOf(email)
	if err != nil {
		return err
	}
	defer evenOut(ctx, time.Now(), s.Settings.ByAddressFloor)
	now := s.Now()
	err = st.Tx(func(tx *repositories.Store) error {
		if err := s.acquireMail(tx, key, now); err != nil {
			return err
		}
		u, err := tx.Users.ByEmailKey(key)
		if errors.Is(err, models.ErrNotFound) || (err == nil && !u.IsActive) {
			return nil
		}
		if err != nil {
			return err
		}
		return send(tx, u, now)
	})
	if errors.Is(err, errMailLimited) {
		return nil
	}
	return err
}

// evenOut waits until floor has passed since start (or ctx ends).
func evenOut(ctx context.Context, start time.Time, floor time.Duration) {
	left := floor - time.Since(start)
	if left <= 0 {
		return
	}
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// ResendVerification queues a fresh verification link to an unverified
// account of the address; the answer is the same for every address.
func (s *Service) ResendVerification(ctx context.Context, st *repositories.Store, email string) error {
	return s.byAddress(ctx, st, email, func(tx *repositories.Store, u *models.User, now time.Time) error {
		if u.EmailVerified {
			return nil
		}
		return s.queueVerifyLink(tx, u, now)
	})
}

// ForgotPassword mails a reset link to the account of the address; the
// answer is the same for every address.
func (s *Service) ForgotPassword(ctx context.Context, st *repositories.Store, email string) error {
	return s.byAddress(ctx, st, email, func(tx *repositories.Store, u *models.User, now time.Time) error {
		return s.queueToken(tx, u, models.PurposeResetPassword, s.Settings.ResetTTL, "/reset-password", now)
	})
}

// VerifyEmail consumes a verification token and marks its account's email
// verified.
func (s *Service) VerifyEmail(ctx context.Context, st *repositories.Store, token string) error {
	if token == "" {
		return models.Invalid(map[string]string{"token": "is required"})
	}
	if !security.PlausibleToken(token, actionTokenBytes) {
		return models.ErrTokenInvalid
	}
	now := s.Now()
	err := st.Tx(func(tx *repositories.Store) error {
		userID, err := tx.Tokens.Consume(models.PurposeVerifyEmail, security.HashToken(token), now)
		if err != nil {
			return err
		}
		return tx.Users.Update(userID, repositories.Changes{EmailVerifiedAt: &now}, now)
	})
	if errors.Is(err, models.ErrNotFound) {
		return models.ErrTokenInvalid // the account went away with its token
	}
	return err
}
