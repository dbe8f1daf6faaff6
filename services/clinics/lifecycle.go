package clinics

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"

	"aura/i18n"
	"aura/mail"
	"aura/models"
	"aura/repositories"
	"aura/services/accounts"
	"aura/services/audit"
	"aura/services/notifications"
	"aura/services/policy"
)

// Settings are the values of the configuration the clinic rules need.
type Settings struct {
	// DefaultLang is the language of notices and mail to an account that
	// has none of its own.
	DefaultLang string
	// FrontendURL is where mail links the recipient to.
	FrontendURL string
}

// ApplicationInput is a clinic application as its applicant types it.
type ApplicationInput struct {
	Name, Address, Phone, LicenseNo string
	Note                            *string
}

// badPhone is why a phone number is refused (as an account's).
const badPhone = "must be a phone number: digits, spaces, +, -, ( and ), at most 32 characters"

// text checks a required one-line text of at most hi characters.
func text(v string, hi int, field string, details map[string]string) string {
	v = strings.TrimSpace(v)
	if msg := models.CheckText(v, 1, hi, false); msg != "" {
		details[field] = msg
	}
	return v
}

func (in ApplicationInput) check() (*models.Clinic, error) {
	details := map[string]string{}
	c := &models.Clinic{}
	c.Name = text(in.Name, 200, "name", details)
	address := text(in.Address, 500, "address", details)
	phone := strings.TrimSpace(in.Phone)
	if !accounts.ValidPhone(phone) {
		details["phone"] = badPhone
	}
	license := text(in.LicenseNo, 100, "licenseNo", details)
	if in.Note != nil {
		n := strings.TrimSpace(*in.Note)
		if msg := models.CheckText(n, 0, 1000, true); msg != "" {
			details["note"] = msg
		} else if n != "" {
			c.Note = &n
		}
	}
	if len(details) > 0 {
		return nil, models.Invalid(details)
	}
	key := models.FoldKey(license)
	c.Address, c.Phone, c.LicenseNo, c.LicenseKey = &address, &phone, &license, &key
	return c, nil
}

// Messages of the application's refusals.
const (
	msgUnverified    = "Verify your email address before applying for a clinic"
	msgPending       = "You already have a clinic application waiting for a decision"
	msgNameTaken     = "A clinic with this name already exists"
	msgLicenseTaken  = "A clinic with this licence number already exists"
	msgNameOrLicense = "A clinic with this name or licence number already exists"
)

// Apply files a clinic application by the caller (signed in, email
// verified; else FORBIDDEN): a pending clinic whose applicant is the
// caller. One pending application per account, and a name or licence
// number another clinic holds (compared folded), are CONFLICT, also when
// two applications race (the unique indexes decide).
func (s *Service) Apply(ctx context.Context, st *repositories.Store, a models.Actor, in ApplicationInput) (*models.Clinic, error) {
	if err := policy.Can(a, policy.PermClinicsApply); err != nil {
		return nil, err
	}
	c, err := in.check()
	if err != nil {
		return nil, err
	}
	u, err := st.Users.ByID(a.UserID)
	if err != nil {
		return nil, err
	}
	if !u.EmailVerified {
		return nil, models.WithMessage(models.ErrForbidden, msgUnverified)
	}
	now := s.Clock.Now()
	c.ID, c.NameKey, c.Status, c.ApplicantID = uuid.NewString(), models.FoldKey(c.Name), models.ClinicPending, &a.UserID
	c.CreatedAt, c.UpdatedAt = now, now
	err = st.Tx(func(tx *repositories.Store) error {
		if err := s.applicable(tx, a.UserID, c); err != nil {
			return err
		}
		if err := tx.Clinics.Create(c); err != nil {
			return err
		}
		return audit.Record(tx, a, "", models.AuditClinicApply, models.EntityClinic, c.ID, now)
	})
	var e *models.Error
	if errors.As(err, &e) && e == models.ErrConflict {
		// A race the checks did not see: a unique index refused the row.
		// Say which, as things are now.
		if why := s.applicable(st, a.UserID, c); why != nil {
			return nil, why
		}
		return nil, models.WithMessage(models.ErrConflict, msgNameOrLicense)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// applicable says why c cannot be filed by applicantID (CONFLICT), or nil.
func (s *Service) applicable(st *repositories.Store, applicantID string, c *models.Clinic) error {
	if _, err := st.Clinics.PendingOf(applicantID); err == nil {
		return models.WithMessage(models.ErrConflict, msgPending)
	} else if !errors.Is(err, models.ErrNotFound) {
		return err
	}
	return s.unique(st, c.NameKey, models.Deref(c.LicenseKey), c.ID)
}

// Mine lists the clinics where the caller is a member or the applicant, in
// any status, with the roles the caller holds in each (a membership in a
// role the account no longer holds counts for nothing, as in the policy).
func (s *Service) Mine(ctx context.Context, st *repositories.Store, a models.Actor) ([]repositories.ClinicRoles, error) {
	list, err := st.Clinics.Mine(a.UserID)
	if err != nil {
		return nil, err
	}
	out := list[:0]
	for _, cr := range list {
		roles := []string{}
		for _, r := range cr.Roles {
			if a.Has(r) {
				roles = append(roles, r)
			}
		}
		applicant := cr.Clinic.ApplicantID != nil && *cr.Clinic.ApplicantID == a.UserID
		if len(roles) > 0 || applicant {
			cr.Roles = roles
			out = append(out, cr)
		}
	}
	return out, nil
}

// AdminQuery is an admin's filter of the clinics, as typed.
type AdminQuery struct {
	Status, Q      string
	Page, PageSize int
}

// AdminPage is a page of clinics with their applicants' accounts (by id).
type AdminPage struct {
	repositories.ClinicPage
	Applicants map[string]repositories.Recipient
}

// AdminList is a page of every clinic, oldest first (ADMIN): by status (a
// comma-separated list), and q matching a part of the name or licence
// number, without regard to case; with who applied for each.
func (s *Service) AdminList(ctx context.Context, st *repositories.Store, a models.Actor, q AdminQuery) (AdminPage, error) {
	if err := policy.Can(a, policy.PermClinicsReview); err != nil {
		return AdminPage{}, err
	}
	details := map[string]string{}
	statuses, fault := models.OneOfEach(q.Status, models.ClinicStatuses)
	if fault != "" {
		details["status"] = fault
	}
	term := strings.TrimSpace(q.Q)
	if msg := models.CheckText(term, 0, 200, false); msg != "" {
		details["q"] = msg
	}
	if len(details) > 0 {
		return AdminPage{}, models.Invalid(details)
	}
	f := repositories.ClinicFilter{Status: statuses, ByAge: true}
	if term != "" {
		f.Q = models.FoldKey(term)
	}
	p, err := st.Clinics.Filtered(f, q.Page, q.PageSize)
	if err != nil {
		return AdminPage{}, err
	}
	applicants, err := st.Clinics.Applicants(p.Items)
	return AdminPage{ClinicPage: p, Applicants: applicants}, err
}

// checkReason is an admin's reason for a rejection or a suspension: 1 to
// 500 characters, lines allowed.
func checkReason(reason string) (string, error) {
	r := strings.TrimSpace(reason)
	if msg := models.CheckText(r, 1, 500, true); msg != "" {
		return "", models.Invalid(map[string]string{"reason": msg})
	}
	return r, nil
}

// Approve makes a pending application an active clinic (ADMIN): its
// applicant becomes its CLINIC_ADMIN and is told (notice and mail,
// CLINIC_APPROVED). Not pending: INVALID_STATE.
func (s *Service) Approve(ctx context.Context, st *repositories.Store, a models.Actor, id string) (*models.Clinic, error) {
	return s.decide(st, a, id, models.AuditClinicApprove,
		repositories.Transition{From: []string{models.ClinicPending}, To: models.ClinicActive, Approved: true},
		func(tx *repositories.Store, c *models.Clinic) error {
			if c.ApplicantID == nil {
				return nil
			}
			if err := tx.Members.Add(c.ID, *c.ApplicantID, models.RoleClinicAdmin, s.Clock.Now()); err != nil {
				return err
			}
			return s.tellApplicant(tx, c, models.NoticeClinicApproved, models.MailClinicApproved)
		})
}

// Reject refuses a pending application with a reason (ADMIN); the applicant
// is told, with the reason. The name and licence number are free again.
// Not pending: INVALID_STATE.
func (s *Service) Reject(ctx context.Context, st *repositories.Store, a models.Actor, id, reason string) (*models.Clinic, error) {
	r, err := checkReason(reason)
	if err != nil {
		return nil, err
	}
	return s.decide(st, a, id, models.AuditClinicReject,
		repositories.Transition{From: []string{models.ClinicPending}, To: models.ClinicRejected, Reason: &r, Release: true},
		func(tx *repositories.Store, c *models.Clinic) error {
			if c.ApplicantID == nil {
				return nil
			}
			return s.tellApplicant(tx, c, models.NoticeClinicRejected, models.MailClinicRejected)
		})
}

// Suspend stops an active clinic with a reason (ADMIN); its CLINIC_ADMINs
// are told. Not active: INVALID_STATE.
func (s *Service) Suspend(ctx context.Context, st *repositories.Store, a models.Actor, id, reason string) (*models.Clinic, error) {
	r, err := checkReason(reason)
	if err != nil {
		return nil, err
	}
	return s.decide(st, a, id, models.AuditClinicSuspend,
		repositories.Transition{From: []string{models.ClinicActive}, To: models.ClinicSuspended, Reason: &r},
		func(tx *repositories.Store, c *models.Clinic) error {
			admins, err := tx.Clinics.AdminsOf(c.ID)
			if err != nil {
				return err
			}
			for i := range admins {
				if err := s.tell(tx, &admins[i], c, models.NoticeClinicSuspended, models.MailClinicSuspended); err != nil {
					return err
				}
			}
			return nil
		})
}

// Reactivate makes a suspended clinic active again (ADMIN); the reason of
// the suspension is cleared. Not suspended: INVALID_STATE.
func (s *Service) Reactivate(ctx context.Context, st *repositories.Store, a models.Actor, id string) (*models.Clinic, error) {
	return s.decide(st, a, id, models.AuditClinicReactivate,
		repositories.Transition{From: []string{models.ClinicSuspended}, To: models.ClinicActive}, nil)
}

// decide applies one transition of clinic id (ADMIN) in a transaction with
// its audit row and what follows from it (after).
func (s *Service) decide(st *repositories.Store, a models.Actor, id, action string, t repositories.Transition,
	after func(tx *repositories.Store, c *models.Clinic) error) (*models.Clinic, error) {
	if err := policy.Can(a, policy.PermClinicsReview); err != nil {
		return nil, err
	}
	if _, err := uuid.Parse(id); err != nil {
		return nil, models.ErrNotFound
	}
	now := s.Clock.Now()
	var out *models.Clinic
	err := st.Tx(func(tx *repositories.Store) error {
		c, err := tx.Clinics.SetStatus(id, t, now)
		if err != nil {
			return err
		}
		if err := audit.Record(tx, a, models.RoleAdmin, action, models.EntityClinic, id, now); err != nil {
			return err
		}
		if after != nil {
			if err := after(tx, c); err != nil {
				return err
			}
		}
		out = c
		return nil
	})
	return out, err
}

// tellApplicant tells the clinic's applicant (if the account still exists).
func (s *Service) tellApplicant(tx *repositories.Store, c *models.Clinic, notice, kind string) error {
	r, err := tx.Clinics.RecipientByID(*c.ApplicantID)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.tell(tx, r, c, notice, kind)
}

// tell writes the notice and queues the mail of a clinic's change to r, in
// r's language (else the default), in tx.
func (s *Service) tell(tx *repositories.Store, r *repositories.Recipient, c *models.Clinic, notice, kind string) error {
	lang := i18n.Lang(models.Deref(r.Lang), s.Settings.DefaultLang)
	reason := models.Deref(c.StatusReason)
	if err := tx.Notifications.Add(notifications.Clinic(notice, r.UserID, c.Name, reason, lang, s.Clock)); err != nil {
		return err
	}
	name := models.Deref(r.FullName)
	if name == "" {
		name, _, _ = strings.Cut(r.Email, "@")
	}
	msg, err := mail.Compose(kind, r.Email, mail.Data{
		Name: name, Link: strings.TrimRight(s.Settings.FrontendURL, "/") + "/clinics/" + c.ID, Lang: lang,
		Clinic: c.Name, Reason: reason, When: s.Clock.Now(),
	}, s.Clock.Now())
	if err != nil {
		return err
	}
	return tx.Outbox.Enqueue(msg)
}
