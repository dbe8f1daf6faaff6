package accounts

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"aura/i18n"
	"aura/mail"
	"aura/models"
	"aura/repositories"
	"aura/security"
	"aura/services/audit"
	"aura/services/policy"
)

// InvitationPath is the front-end page an invitation's link opens:
// {frontend_url}/invitations/accept?token=...
const InvitationPath = "/invitations/accept"

// Messages of the invitations' refusals.
const (
	msgSignInToAccept   = "An account with this email exists: sign in to it, then accept the invitation"
	msgAccountLicense   = "Another doctor has this license number"
	msgClinicRoleByLink = "clinic roles (CLINIC_ADMIN, TECHNICIAN) are given by a clinic's invitation; each role must be one of PATIENT, DOCTOR, ADMIN"
	msgAccountExists    = "An account with this email already exists"
)

// NewInvitation returns an invitation to email (trimmed, NFKC; its key
// lower-cased) with a fresh token: the invitation holds only the token's
// hash; the raw token goes into the mail and nowhere else. It expires
// models.InvitationTTL after now.
func NewInvitation(email, emailKey string, now time.Time) (*models.Invitation, string) {
	raw := security.NewOpaqueToken(actionTokenBytes)
	return &models.Invitation{
		ID: uuid.NewString(), Email: email, EmailKey: emailKey, TokenHash: security.HashToken(raw),
		Status: models.InvitationPending, ExpiresAt: now.Add(models.InvitationTTL), CreatedAt: now,
	}, raw
}

// InvitationMail is what an invitation's mail says besides its link.
type InvitationMail struct {
	FrontendURL string
	// Lang is the recipient's language (their account's, else the
	// inviter's, else the default).
	Lang string
	// Name greets the recipient ("" : the address's local part).
	Name string
	// Clinic is the name of the clinic a staff invitation is to.
	Clinic string
}

// ComposeInvitation renders the mail that carries inv's link (raw, the
// token) to inv.Email: an invitation to a clinic (MailInvitation), or, for
// an account invitation, the link to set the first password of an account
// an admin made (MailAccountInvitation). It is dropped unsent once the link
// has expired.
func ComposeInvitation(inv *models.Invitation, raw string, m InvitationMail, now time.Time) (*models.OutboxMessage, error) {
	kind := models.MailInvitation
	if inv.Role == "" {
		kind = models.MailAccountInvitation
	}
	name := strings.TrimSpace(m.Name)
	if name == "" {
		name = localPart(inv.Email)
	}
	return mail.Compose(kind, inv.Email, mail.Data{
		Name: name, Link: mail.Link(m.FrontendURL, InvitationPath, raw), ValidFor: inv.ExpiresAt.Sub(now),
		Lang: m.Lang, Clinic: m.Clinic, Role: inv.Role,
	}, now)
}

// AwaitingPassword reports whether u is an account no one can sign in to
// yet: no password, and an email never verified. Only POST
// /api/admin/users makes such accounts (a Google account always has its
// email verified); an invitation's link is the proof of the address that
// lets its owner set the first password without signing in.
func AwaitingPassword(u *models.User) bool {
	return u.PasswordHash == security.NoPassword && !u.EmailVerified
}

// NewUserInput is an account an admin makes: it has no password until its
// owner sets one with the link mailed to it.
type NewUserInput struct {
	Email    string
	FullName string
	Roles    []string
}

// CreateUser makes an account for someone else (ADMIN): the email, name and
// account roles (PATIENT, DOCTOR, ADMIN; the clinic roles come only with a
// clinic's invitation) given, no usable password and an unverified email.
// An account invitation is mailed to it in the same transaction, in the
// admin's language (the account's language too): its link (valid 72 h)
// lets the owner set a password, which verifies the email. An email an
// account has: CONFLICT. Audited as user.create.
func (s *Service) CreateUser(ctx context.Context, st *repositories.Store, a models.Actor, in NewUserInput) (*models.User, error) {
	if err := policy.Can(a, policy.PermUsersManage); err != nil {
		return nil, err
	}
	details := map[string]string{}
	email, key, err := models.NormalizeEmail(in.Email)
	if err != nil {
		details["email"] = err.Error()
		if strings.TrimSpace(in.Email) == "" {
			details["email"] = "is required"
		}
	}
	name := strings.TrimSpace(in.FullName)
	if name == "" {
		details["fullName"] = "is required"
	} else if msg := CheckName(name); msg != "" {
		details["fullName"] = msg
	}
	var roles []string
	for _, r := range in.Roles {
		if slices.Contains(models.ClinicRoles, r) && r != models.RoleDoctor {
			details["roles"] = msgClinicRoleByLink
		}
	}
	if details["roles"] == "" {
		var msg string
		if roles, msg = Roles(in.Roles); msg != "" {
			details["roles"] = msg
		}
	}
	if len(details) > 0 {
		return nil, models.Invalid(details)
	}
	now := s.Now()
	u := &models.User{ID: uuid.NewString(), Email: email, EmailNormalized: &key, FullName: &name,
		PasswordHash: security.NoPassword, IsActive: true, CreatedAt: now}
	lang := s.Settings.DefaultLang
	if admin, err := st.Users.ByID(a.UserID); err == nil && admin.Lang != nil {
		lang = *admin.Lang
	}
	lang = i18n.Lang(lang, s.Settings.DefaultLang)
	u.Lang = &lang
	err = st.Tx(func(tx *repositories.Store) error {
		if err := tx.Users.Create(u, roles...); err != nil {
			return err
		}
		if err := audit.Record(tx, a, models.RoleAdmin, models.AuditUserCreate, models.EntityUser, u.ID, now); err != nil {
			return err
		}
		if err := tx.Invitations.SupersedeAccount(key, now); err != nil {
			return err
		}
		inv, raw := NewInvitation(email, key, now)
		inv.InvitedBy = &a.UserID
		if err := tx.Invitations.Create(inv); err != nil {
			return err
		}
		msg, err := ComposeInvitation(inv, raw, InvitationMail{FrontendURL: s.Settings.FrontendURL, Lang: lang, Name: name}, now)
		if err != nil {
			return err
		}
		return tx.Outbox.Enqueue(msg)
	})
	if errors.Is(err, models.ErrEmailTaken) {
		return nil, models.WithMessage(models.ErrConflict, msgAccountExists)
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// AcceptInput is an acceptance of an invitation: the token, and for an
// account without a password (a new one, or one an admin made) the
// password; for a new account the full name too.
type AcceptInput struct {
	Token    string
	Password *string
	FullName *string
}

// AcceptInvitation accepts the invitation of in.Token and signs its account
// in (a new session, as login answers). The account is the one with the
// invitation's email:
//   - the caller's (caller non-nil): its email must be the invitation's;
//   - none yet: it is made, with in.Password (the sign-up policy) and
//     in.FullName, its email verified (the link proves the address), and the
//     caller's language;
//   - one an admin made that has no password yet: in.Password becomes its
//     password (and in.FullName its name, if given), its email verified;
//   - any other: the caller must sign in to it first (UNAUTHORIZED).
//
// The invitation then gives what it carries: a staff invitation the
// membership of its clinic in its role (DOCTOR also the account role and
// the doctor profile with the invitation's licence number). Its clinic must
// be active (CLINIC_INACTIVE; the invitation stays pending). Unknown,
// malformed, used, revoked and expired tokens, and a caller of another
// email, all answer the one TOKEN_INVALID. The claim is a conditional
// UPDATE inside the transaction that grants: of concurrent acceptances of
// one invitation exactly one succeeds; the others answer TOKEN_INVALID.
func (s *Service) AcceptInvitation(ctx context.Context, st *repositories.Store, in AcceptInput, caller *models.User, cl Client) (*Session, error) {
	if in.Token == "" {
		return nil, models.Invalid(map[string]string{"token": "is required"})
	}
	if !security.PlausibleToken(in.Token, actionTokenBytes) {
		return nil, models.ErrTokenInvalid
	}
	now := s.Now()
	inv, err := st.Invitations.ByTokenHash(security.HashToken(in.Token))
	if errors.Is(err, models.ErrNotFound) || (err == nil && !inv.Live(now)) {
		return nil, models.ErrTokenInvalid
	}
	if err != nil {
		return nil, err
	}
	if caller != nil && emailKey(caller) != inv.EmailKey {
		return nil, models.ErrTokenInvalid
	}
	if inv.ClinicID != nil {
		c, err := st.Clinics.ByID(*inv.ClinicID)
		if errors.Is(err, models.ErrNotFound) {
			return nil, models.ErrTokenInvalid
		}
		if err != nil {
			return nil, err
		}
		if !c.Active() {
			return nil, models.ErrClinicInactive
		}
	}
	u := caller
	newAccount, firstPassword := false, false
	if u == nil {
		existing, err := st.Users.ByEmailKey(inv.EmailKey)
		switch {
		case errors.Is(err, models.ErrNotFound):
			newAccount = true
		case err != nil:
			return nil, err
		case !AwaitingPassword(existing):
			// The account may be the one a concurrent acceptance of this
			// invitation just made (it commits both at once): then the
			// invitation is used, and that is the answer.
			if again, err := st.Invitations.ByTokenHash(inv.TokenHash); err != nil || !again.Live(now) {
				return nil, models.ErrTokenInvalid
			}
			return nil, models.WithMessage(models.ErrUnauthorized, msgSignInToAccept)
		case !existing.IsActive:
			return nil, models.ErrDisabled
		default:
			u, firstPassword = existing, true
		}
	}
	if u != nil && !u.IsActive {
		return nil, models.ErrDisabled
	}
	var pwHash, name string
	if newAccount || firstPassword {
		details := map[string]string{}
		if newAccount {
			name = strings.TrimSpace(models.Deref(in.FullName))
			if name == "" {
				details["fullName"] = "is required"
			}
		} else {
			name = DisplayName(u)
			if in.FullName != nil && strings.TrimSpace(*in.FullName) != "" {
				name = strings.TrimSpace(*in.FullName)
			}
		}
		if msg := CheckName(name); msg != "" {
			details["fullName"] = msg
		}
		pw := models.Deref(in.Password)
		if pw == "" {
			details["password"] = "is required"
		} else if msg := security.CheckPassword(pw, inv.Email, name, s.Settings.PasswordMinLength); msg != "" {
			details["password"] = msg
		}
		if len(details) > 0 {
			return nil, models.Invalid(details)
		}
		h, err := s.Hasher.Hash(ctx, pw)
		if err != nil {
			return nil, unavailableOr(err)
		}
		pwHash = h
	}
	if newAccount {
		key := inv.EmailKey
		u = &models.User{ID: uuid.NewString(), Email: inv.Email, EmailNormalized: &key, FullName: &name,
			PasswordHash: pwHash, EmailVerified: true, EmailVerifiedAt: &now, IsActive: true, CreatedAt: now}
		if cl.Lang != "" {
			lang := cl.Lang
			u.Lang = &lang
		}
	}
	var sess *Session
	err = st.Tx(func(tx *repositories.Store) error {
		// The claim first: a concurrent acceptance waits here and then
		// finds the invitation taken.
		if err := tx.Invitations.Accept(inv.ID, u.ID, now); err != nil {
			return err
		}
		switch {
		case newAccount:
			if err := tx.Users.Create(u); err != nil {
				return err
			}
		case firstPassword:
			if err := tx.Users.SetFirstPassword(u.ID, pwHash, security.NoPassword, now); errors.Is(err, models.ErrNotFound) {
				return models.WithMessage(models.ErrUnauthorized, msgSignInToAccept)
			} else if err != nil {
				return err
			}
			if in.FullName != nil && strings.TrimSpace(*in.FullName) != "" {
				if err := tx.Users.Update(u.ID, repositories.Changes{FullName: &name}, now); err != nil {
					return err
				}
			}
		case !u.EmailVerified:
			if err := tx.Users.Update(u.ID, repositories.Changes{EmailVerifiedAt: &now}, now); err != nil {
				return err
			}
		}
		if err := grant(tx, inv, u.ID, now); err != nil {
			return err
		}
		fresh, err := tx.Users.ByID(u.ID)
		if err != nil {
			return err
		}
		role := inv.Role
		if role == "" && len(fresh.Roles) > 0 {
			role = fresh.Roles[len(fresh.Roles)-1].Name
		}
		who := models.Actor{UserID: u.ID, Roles: fresh.RoleNames(), IP: cl.IP}
		if err := audit.Record(tx, who, role, models.AuditInvitationAccept, models.EntityInvitation, inv.ID, now); err != nil {
			return err
		}
		sess, err = s.startSession(tx, fresh, cl, now)
		return err
	})
	if errors.Is(err, models.ErrEmailTaken) {
		// An account with the address was made meanwhile (by another
		// invitation's acceptance): it is an existing account now.
		return nil, models.WithMessage(models.ErrUnauthorized, msgSignInToAccept)
	}
	return sess, err
}

// grant gives userID what inv carries, in tx.
func grant(tx *repositories.Store, inv *models.Invitation, userID string, now time.Time) error {
	if inv.ClinicID == nil || inv.Role == "" {
		return nil
	}
	switch inv.Role {
	case models.RoleDoctor:
		if err := tx.Users.Grant(userID, models.RoleDoctor, now); err != nil {
			return err
		}
		d := &models.Doctor{UserID: userID, LicenseNo: models.Deref(inv.LicenseNo), LicenseKey: models.Deref(inv.LicenseKey),
			Specialization: inv.Specialization, CreatedAt: now, UpdatedAt: now}
		if err := tx.Doctors.Upsert(d); err != nil {
			var e *models.Error
			if errors.As(err, &e) && e == models.ErrConflict {
				return models.WithMessage(models.ErrConflict, msgAccountLicense)
			}
			return err
		}
	case models.RoleClinicAdmin, models.RoleTechnician:
	case models.RolePatient:
		// A patient record's invitation joins the record to the account
		// (merging it into the account's own record, if it has one).
		if inv.PatientID == nil {
			return models.ErrTokenInvalid
		}
		if err := tx.Patients.Join(*inv.PatientID, userID, now); errors.Is(err, models.ErrNotFound) {
			return models.ErrTokenInvalid
		} else if err != nil {
			return err
		}
		return tx.Users.Grant(userID, models.RolePatient, now)
	default:
		return models.ErrTokenInvalid
	}
	return tx.Members.Add(*inv.ClinicID, userID, inv.Role, now)
}
