package clinics

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"aura/i18n"
	"aura/models"
	"aura/repositories"
	"aura/services/accounts"
	"aura/services/audit"
	"aura/services/policy"
)

// InviteInput is an invitation as a clinic's admin types it.
type InviteInput struct {
	Email, Role    string
	LicenseNo      *string
	Specialization *string
}

// Messages of the invitations' refusals.
const (
	msgAlreadyMember  = "This account is already a member of the clinic in this role"
	msgLicenseOfOther = "Another doctor has this license number"
)

// staffRoles are the roles a staff invitation offers.
var staffRoles = []string{models.RoleDoctor, models.RoleClinicAdmin, models.RoleTechnician}

func (in InviteInput) check() (*models.Invitation, error) {
	details := map[string]string{}
	email, key, err := models.NormalizeEmail(in.Email)
	if err != nil {
		details["email"] = err.Error()
		if strings.TrimSpace(in.Email) == "" {
			details["email"] = "is required"
		}
	}
	if !slices.Contains(staffRoles, in.Role) {
		details["role"] = "must be one of " + strings.Join(staffRoles, ", ")
	}
	inv := &models.Invitation{Email: email, EmailKey: key, Role: in.Role}
	if in.Role == models.RoleDoctor {
		license := text(models.Deref(in.LicenseNo), 100, "licenseNo", details)
		lk := models.FoldKey(license)
		inv.LicenseNo, inv.LicenseKey = &license, &lk
		if in.Specialization != nil {
			v := strings.TrimSpace(*in.Specialization)
			if msg := models.CheckText(v, 0, 200, false); msg != "" {
				details["specialization"] = msg
			} else if v != "" {
				inv.Specialization = &v
			}
		}
	} else {
		if in.LicenseNo != nil {
			details["licenseNo"] = "is only for a DOCTOR invitation"
		}
		if in.Specialization != nil {
			details["specialization"] = "is only for a DOCTOR invitation"
		}
	}
	if len(details) > 0 {
		return nil, models.Invalid(details)
	}
	return inv, nil
}

// Invite invites email to clinicID in a staff role (CLINIC_ADMIN of the
// clinic, ADMIN: staff.invite). A DOCTOR invitation carries the licence
// number (required) the doctor profile will have: one another doctor holds
// is CONFLICT. The clinic must be active (CLINIC_INACTIVE); an account of
// the address that is already a member in the role is CONFLICT. A new
// invitation to the same address and role in the clinic revokes the live
// ones sent before it. The mail with the link (valid 72 h) is queued in the
// same transaction, in the language of the address's account, else the
// inviter's, else the default. Audited as invitation.create.
func (s *Service) Invite(ctx context.Context, st *repositories.Store, a models.Actor, clinicID string, in InviteInput) (*models.Invitation, error) {
	if err := s.inClinic(st, a, clinicID, policy.PermStaffInvite); err != nil {
		return nil, err
	}
	want, err := in.check()
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	var out *models.Invitation
	err = st.Tx(func(tx *repositories.Store) error {
		c, err := tx.Clinics.ByID(clinicID)
		if err != nil {
			return err
		}
		if !c.Active() {
			return models.ErrClinicInactive
		}
		lang, name := "", ""
		invitee, err := tx.Users.ByEmailKey(want.EmailKey)
		switch {
		case errors.Is(err, models.ErrNotFound):
			invitee = nil
		case err != nil:
			return err
		default:
			lang, name = models.Deref(invitee.Lang), accounts.DisplayName(invitee)
			member, err := tx.Members.Has(clinicID, invitee.ID, want.Role)
			if err != nil {
				return err
			}
			if member {
				return models.WithMessage(models.ErrConflict, msgAlreadyMember)
			}
		}
		if want.Role == models.RoleDoctor {
			holder, err := tx.Doctors.LicenseHolder(*want.LicenseKey)
			if err != nil {
				return err
			}
			if holder != "" && (invitee == nil || holder != invitee.ID) {
				return models.WithMessage(models.ErrConflict, msgLicenseOfOther)
			}
		}
		if err := tx.Invitations.Supersede(clinicID, want.EmailKey, want.Role, now); err != nil {
			return err
		}
		inv, raw := accounts.NewInvitation(want.Email, want.EmailKey, now)
		inv.ClinicID, inv.Role, inv.InvitedBy = &clinicID, want.Role, &a.UserID
		inv.LicenseNo, inv.LicenseKey, inv.Specialization = want.LicenseNo, want.LicenseKey, want.Specialization
		out = inv
		return s.send(tx, a, inv, raw, actingRole(tx, a, clinicID), lang, name, c.Name, now)
	})
	return out, err
}

// Messages of a patient invitation's refusals.
const (
	msgPatientHasAccount = "This patient record is joined to an account already"
	msgPatientNoEmail    = "is required on the patient's record to invite them: set it first"
)

// InvitePatient invites the person of patient record patientID, enrolled in
// clinicID, to join the record to an account (staff of the clinic:
// patients.invite): the mail with the link (valid 72 h) goes to the
// record's email, which is required (VALIDATION_FAILED on email). A record
// that has an account already is CONFLICT; one not enrolled in the clinic,
// NOT_FOUND. On acceptance the record becomes the accepting account's (a
// new one, or an existing one that signs in; one that has a record of its
// own gets the two merged). A new invitation for the record revokes the
// live ones sent before it. Audited as invitation.create.
func (s *Service) InvitePatient(ctx context.Context, st *repositories.Store, a models.Actor, clinicID, patientID string) (*models.Invitation, error) {
	if err := s.inClinic(st, a, clinicID, policy.PermPatientsInvite); err != nil {
		return nil, err
	}
	if _, err := uuid.Parse(patientID); err != nil {
		return nil, models.ErrNotFound
	}
	now := s.Clock.Now()
	var out *models.Invitation
	err := st.Tx(func(tx *repositories.Store) error {
		rec, err := tx.Patients.EnrolledRecord(clinicID, patientID)
		if err != nil {
			return err
		}
		if rec.UserID != nil {
			return models.WithMessage(models.ErrConflict, msgPatientHasAccount)
		}
		if rec.RecordEmail == nil || strings.TrimSpace(*rec.RecordEmail) == "" {
			return models.Invalid(map[string]string{"email": msgPatientNoEmail})
		}
		email, key, err := models.NormalizeEmail(*rec.RecordEmail)
		if err != nil {
			return models.Invalid(map[string]string{"email": err.Error()})
		}
		c, err := tx.Clinics.ByID(clinicID)
		if err != nil {
			return err
		}
		if !c.Active() {
			return models.ErrClinicInactive
		}
		lang, name := "", models.Deref(rec.RecordName)
		if invitee, err := tx.Users.ByEmailKey(key); err == nil {
			lang = models.Deref(invitee.Lang)
		} else if !errors.Is(err, models.ErrNotFound) {
			return err
		}
		if err := tx.Invitations.SupersedePatient(patientID, now); err != nil {
			return err
		}
		inv, raw := accounts.NewInvitation(email, key, now)
		inv.ClinicID, inv.Role, inv.InvitedBy, inv.PatientID = &clinicID, models.RolePatient, &a.UserID, &rec.ID
		out = inv
		return s.send(tx, a, inv, raw, staffRole(tx, a, clinicID), lang, name, c.Name, now)
	})
	return out, err
}

// send stores invitation inv, records it in the audit trail under role, and
// queues its mail (raw, the token) in lang: the addressee's account's
// language, else ("") the inviter's, else the default. Run it in tx.
func (s *Service) send(tx *repositories.Store, a models.Actor, inv *models.Invitation, raw, role, lang, name, clinic string, now time.Time) error {
	if lang == "" {
		if inviter, err := tx.Users.ByID(a.UserID); err == nil {
			lang = models.Deref(inviter.Lang)
		}
	}
	if err := tx.Invitations.Create(inv); err != nil {
		return err
	}
	if err := audit.Record(tx, a, role, models.AuditInvitationCreate, models.EntityInvitation, inv.ID, now); err != nil {
		return err
	}
	msg, err := accounts.ComposeInvitation(inv, raw, accounts.InvitationMail{
		FrontendURL: s.Settings.FrontendURL, Lang: i18n.Lang(lang, s.Settings.DefaultLang), Name: name, Clinic: clinic}, now)
	if err != nil {
		return err
	}
	return tx.Outbox.Enqueue(msg)
}

// staffRole is the role the actor acts in within the clinic for the audit
// trail: ADMIN, else the first clinic role they hold there (CLINIC_ADMIN,
// DOCTOR, TECHNICIAN).
func staffRole(tx *repositories.Store, a models.Actor, clinicID string) string {
	return policy.AuditRoleIn(tx, a, clinicID, models.RoleAdmin, models.RoleAdmin, models.RoleClinicAdmin, models.RoleDoctor, models.RoleTechnician)
}

// InvitationQuery is a filter of a clinic's invitations, as typed.
type InvitationQuery struct {
	Status         string
	Page, PageSize int
}

// Invitations is a page of the clinic's invitations, newest first (staff.invite
// in the clinic), each with its status as of now; status is a
// comma-separated list of models.InvitationStatuses.
func (s *Service) Invitations(ctx context.Context, st *repositories.Store, a models.Actor, clinicID string, q InvitationQuery) (repositories.InvitationPage, error) {
	if err := s.inClinic(st, a, clinicID, policy.PermStaffInvite); err != nil {
		return repositories.InvitationPage{}, err
	}
	statuses, fault := models.OneOfEach(q.Status, models.InvitationStatuses)
	if fault != "" {
		return repositories.InvitationPage{}, models.Invalid(map[string]string{"status": fault})
	}
	now := s.Clock.Now()
	p, err := st.Invitations.OfClinic(clinicID, statuses, now, q.Page, q.PageSize)
	for i := range p.Items {
		p.Items[i].Status = p.Items[i].StatusAt(now) // as shown: expired when past its expiry
	}
	return p, err
}

// Revoke revokes a pending invitation of the clinic (staff.invite in it): its
// link stops working. Unknown: NOT_FOUND; accepted, revoked or expired:
// INVALID_STATE. Audited as invitation.revoke.
func (s *Service) Revoke(ctx context.Context, st *repositories.Store, a models.Actor, clinicID, id string) (*models.Invitation, error) {
	if err := s.inClinic(st, a, clinicID, policy.PermStaffInvite); err != nil {
		return nil, err
	}
	if _, err := uuid.Parse(id); err != nil {
		return nil, models.ErrNotFound
	}
	now := s.Clock.Now()
	var out *models.Invitation
	err := st.Tx(func(tx *repositories.Store) error {
		inv, err := tx.Invitations.Revoke(clinicID, id, now)
		if err != nil {
			return err
		}
		out = inv
		return audit.Record(tx, a, actingRole(tx, a, clinicID), models.AuditInvitationRevoke, models.EntityInvitation, id, now)
	})
	return out, err
}

// inClinic answers nil when a may do p in clinicID (policy.CanIn), which
// must exist (NOT_FOUND, as for a clinic the caller may not see).
func (s *Service) inClinic(st *repositories.Store, a models.Actor, clinicID string, p policy.Permission) error {
	if err := policy.Can(a, p); err != nil {
		return err
	}
	if _, err := uuid.Parse(clinicID); err != nil {
		return models.ErrNotFound
	}
	if err := policy.CanIn(st, a, clinicID, p); err != nil {
		return err
	}
	_, err := st.Clinics.ByID(clinicID)
	return err
}

// actingRole is the role the actor acts in within the clinic, for the
// audit trail: CLINIC_ADMIN when they hold it there, else ADMIN.
func actingRole(tx *repositories.Store, a models.Actor, clinicID string) string {
	return policy.AuditRoleIn(tx, a, clinicID, models.RoleAdmin, models.RoleClinicAdmin, models.RoleAdmin)
}
