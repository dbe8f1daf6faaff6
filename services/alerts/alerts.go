// Package alerts holds the alerts of results a clinic must look at: opened
// with the result (a HIGH_RISK or a TREND_CHANGE), told to the doctors and
// admins of the clinic, acknowledged, resolved, and escalated to the
// clinic's admins when still open after alerts.escalate_after.
//
// AURA measures; it does not diagnose. An alert says that a measurement
// crossed a threshold the clinic chose, so that a clinician looks sooner.
package alerts

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"aura/analysis/risk"
	"aura/i18n"
	"aura/mail"
	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/notifications"
	"aura/services/policy"
)

// NoteMax is the longest resolution note, in characters.
const NoteMax = 1000

// Settings are the values of the configuration alerts need.
type Settings struct {
	// DefaultLang is the language of a recipient whose account has none.
	DefaultLang string
	// FrontendURL is where mail links the recipient to.
	FrontendURL string
	// EscalateAfter is how long an alert may stay open before the
	// clinic's admins are told again (alerts.escalate_after).
	EscalateAfter time.Duration
}

// Service is the alerts' rules.
type Service struct {
	Clock    models.Clock
	Settings Settings
}

// Subject is what a new result's alert is about: the screening (its
// clinic, patient, eye) and its rating.
type Subject struct {
	ScreeningID string
	ClinicID    string
	ClinicName  string
	PatientID   string
	PatientCode string
	// Level is the result's risk level; nil for an ungradable image.
	Level    *string
	Findings []risk.Finding
}

// KindOf is the alert a rated result opens: HIGH_RISK when rated high or
// critical, else TREND_CHANGE when it carries that finding, else none ("").
// A result opens at most one alert: a high result that also moved past a
// trend threshold is one HIGH_RISK alert (its findings show both).
func KindOf(level *string, findings []risk.Finding) string {
	if level != nil && risk.Rank(*level) >= risk.Rank(risk.High) {
		return models.AlertHighRisk
	}
	if level != nil && slices.ContainsFunc(findings, func(f risk.Finding) bool { return f.Code == risk.CodeTrendChange }) {
		return models.AlertTrendChange
	}
	return ""
}

// Open opens the alert of a new result, if it calls for one, in tx (the
// transaction that records the result), and tells it (notice
// ALERT_OPENED and mail, each in the recipient's language): to the doctor
// assigned to the patient at the clinic (when they may still take its
// cases), else to every doctor of the clinic, and to the clinic's
// CLINIC_ADMINs; a person holding both roles is told once. Every screening
// is sent to a clinic (its clinic is required), so every result may open
// one; a result with no clinic would open none. Returns the alert, nil
// when none was opened.
func (s *Service) Open(tx *repositories.Store, sub Subject) (*models.Alert, error) {
	kind := KindOf(sub.Level, sub.Findings)
	if kind == "" || sub.ClinicID == "" {
		return nil, nil
	}
	now := s.Clock.Now()
	a := &models.Alert{ID: uuid.NewString(), ClinicID: sub.ClinicID, PatientID: sub.PatientID, ScreeningID: sub.ScreeningID,
		Kind: kind, Level: *sub.Level, Status: models.AlertOpen, CreatedAt: now}
	opened, err := tx.Alerts.Open(a)
	if err != nil || !opened {
		return nil, err // !opened: this screening's alert exists (a result recorded twice)
	}
	var recipients []repositories.Recipient
	d, err := tx.Patients.AssignedDoctor(sub.ClinicID, sub.PatientID)
	if err != nil {
		return nil, err
	}
	if d != nil {
		r, err := tx.Clinics.RecipientByID(d.UserID)
		if err != nil {
			return nil, err
		}
		recipients = append(recipients, *r)
	} else {
		doctors, err := tx.Clinics.DoctorsOf(sub.ClinicID)
		if err != nil {
			return nil, err
		}
		recipients = append(recipients, doctors...)
	}
	admins, err := tx.Clinics.AdminsOf(sub.ClinicID)
	if err != nil {
		return nil, err
	}
	recipients = append(recipients, admins...)
	return a, s.tell(tx, once(recipients), models.NoticeAlertOpened, models.MailAlertOpened, a, sub.ClinicName, sub.PatientCode)
}

// once drops the second and later entries of one account.
func once(rs []repositories.Recipient) []repositories.Recipient {
	seen := map[string]bool{}
	out := rs[:0:0]
	for _, r := range rs {
		if !seen[r.UserID] {
			seen[r.UserID] = true
			out = append(out, r)
		}
	}
	return out
}

// tell writes the notice and queues the mail of alert a to each recipient,
// in their language (else the default), in tx.
func (s *Service) tell(tx *repositories.Store, rs []repositories.Recipient, notice, kind string, a *models.Alert, clinicName, patientCode string) error {
	link := strings.TrimRight(s.Settings.FrontendURL, "/") + "/screenings/" + a.ScreeningID
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.UserID)
	}
	// The live update (event: alert) to the same people, delivered if the
	// result's (or the escalation's) transaction commits.
	if err := tx.Events.Publish(models.EventAlert, ids, AlertEvent{ID: a.ID, ClinicID: a.ClinicID, ScreeningID: a.ScreeningID,
		Kind: a.Kind, Level: a.Level, Status: a.Status, Notice: notice}, s.Clock.Now()); err != nil {
		return err
	}
	for _, r := range rs {
		lang := i18n.Lang(models.Deref(r.Lang), s.Settings.DefaultLang)
		if err := tx.Notifications.Add(notifications.Alert(notice, a.Kind, a.Level, r.UserID, a.ScreeningID, clinicName, patientCode, lang, s.Clock)); err != nil {
			return err
		}
		name := models.Deref(r.FullName)
		if name == "" {
			name, _, _ = strings.Cut(r.Email, "@")
		}
		msg, err := mail.Compose(kind, r.Email, mail.Data{Name: name, Link: link, When: a.CreatedAt, Clinic: clinicName,
			Reason: notifications.AlertReason(a.Kind, a.Level, lang), Lang: lang}, s.Clock.Now())
		if err != nil {
			return err
		}
		if err := tx.Outbox.Enqueue(msg); err != nil {
			return err
		}
	}
	return nil
}

// AlertEvent is the data of an `alert` live update: the alert as it was
// opened or escalated (Notice ALERT_OPENED or ALERT_ESCALATED); its
// patient is read with GET /api/clinics/{id}/alerts.
type AlertEvent struct {
	ID          string `json:"id"`
	ClinicID    string `json:"clinicId"`
	ScreeningID string `json:"screeningId"`
	Kind        string `json:"kind"`
	Level       string `json:"level"`
	Status      string `json:"status"`
	Notice      string `json:"notice"`
}

// Query is a page of a clinic's alerts: Status is a comma-separated list
// of statuses ("" for all).
type Query struct {
	Status         string
	Page, PageSize int
}

// List is a page of the clinic's alerts, newest first (DOCTOR and
// CLINIC_ADMIN of the clinic); the listing is audited (alert.list naming
// the clinic), as it shows patients.
func (s *Service) List(ctx context.Context, st *repositories.Store, a models.Actor, clinicID string, q Query) (repositories.AlertPage, error) {
	if err := policy.Can(a, policy.PermAlertsRead); err != nil {
		return repositories.AlertPage{}, err
	}
	statuses, fault := models.OneOfEach(q.Status, models.AlertStatuses)
	if fault != "" {
		return repositories.AlertPage{}, models.Invalid(map[string]string{"status": fault})
	}
	if err := policy.CanIn(st, a, clinicID, policy.PermAlertsRead); err != nil {
		return repositories.AlertPage{}, err
	}
	var p repositories.AlertPage
	err := st.Tx(func(tx *repositories.Store) error {
		var err error
		if p, err = tx.Alerts.List(clinicID, statuses, q.Page, q.PageSize); err != nil {
			return err
		}
		return audit.Record(tx, a, "", models.AuditAlertList, models.EntityClinic, clinicID, s.Clock.Now())
	})
	return p, err
}

// Acknowledge marks an open alert acknowledged by the caller (DOCTOR or
// CLINIC_ADMIN of its clinic); not open: INVALID_STATE; another clinic's
// or unknown: NOT_FOUND.
func (s *Service) Acknowledge(ctx context.Context, st *repositories.Store, a models.Actor, id string) (*repositories.AlertRow, error) {
	return s.step(st, a, id, models.AuditAlertAcknowledge, func(tx *repositories.Store, now time.Time) (bool, error) {
		return tx.Alerts.Acknowledge(id, a.UserID, now)
	})
}

// Resolve marks an open or acknowledged alert resolved by the caller, with
// an optional note (at most NoteMax characters, lines allowed, no control
// characters); resolved already: INVALID_STATE.
func (s *Service) Resolve(ctx context.Context, st *repositories.Store, a models.Actor, id string, note *string) (*repositories.AlertRow, error) {
	if err := policy.Can(a, policy.PermAlertsManage); err != nil {
		return nil, err
	}
	if note != nil {
		n := strings.TrimSpace(*note)
		if msg := models.CheckText(n, 0, NoteMax, true); msg != "" {
			return nil, models.Invalid(map[string]string{"note": msg})
		}
		if n == "" {
			note = nil
		} else {
			note = &n
		}
	}
	return s.step(st, a, id, models.AuditAlertResolve, func(tx *repositories.Store, now time.Time) (bool, error) {
		return tx.Alerts.Resolve(id, a.UserID, note, now)
	})
}

// step applies one transition of alert id in a transaction with its audit
// row.
func (s *Service) step(st *repositories.Store, a models.Actor, id, action string,
	move func(tx *repositories.Store, now time.Time) (bool, error)) (*repositories.AlertRow, error) {
	if err := policy.Can(a, policy.PermAlertsManage); err != nil {
		return nil, err
	}
	if _, err := uuid.Parse(id); err != nil {
		return nil, models.ErrNotFound
	}
	now := s.Clock.Now()
	var out *repositories.AlertRow
	err := st.Tx(func(tx *repositories.Store) error {
		row, err := tx.Alerts.Get(id)
		if err != nil {
			return err
		}
		if err := policy.CanIn(tx, a, row.ClinicID, policy.PermAlertsManage); err != nil {
			if errors.Is(err, models.ErrForbidden) {
				return err
			}
			return models.ErrNotFound
		}
		ok, err := move(tx, now)
		if err != nil {
			return err
		}
		if !ok {
			return models.ErrInvalidState
		}
		if err := audit.Record(tx, a, "", action, models.EntityAlert, id, now); err != nil {
			return err
		}
		out, err = tx.Alerts.Get(id)
		return err
	})
	return out, err
}

// Escalate tells the clinic's CLINIC_ADMINs (notice ALERT_ESCALATED and
// mail) of each alert still open EscalateAfter after it was opened, up to
// batch alerts. Each alert is escalated once, whatever the number of
// instances doing this at the same moment: an alert is marked escalated
// by a conditional UPDATE (escalated_at IS NULL) in the transaction that
// tells its admins, and only the instance whose UPDATE changed the row
// tells them. now is the caller's time (housekeeping's clock). Returns
// how many alerts this call escalated.
func (s *Service) Escalate(ctx context.Context, st *repositories.Store, now time.Time, batch int) (int, error) {
	if s.Settings.EscalateAfter <= 0 {
		return 0, nil
	}
	due, err := st.Alerts.DueForEscalation(now.Add(-s.Settings.EscalateAfter), batch)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range due {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		a := &due[i]
		won := false
		err := st.Tx(func(tx *repositories.Store) error {
			ok, err := tx.Alerts.MarkEscalated(a.ID, now)
			if err != nil || !ok {
				return err
			}
			won = true
			c, err := tx.Clinics.ByID(a.ClinicID)
			if err != nil {
				return err
			}
			admins, err := tx.Clinics.AdminsOf(a.ClinicID)
			if err != nil {
				return err
			}
			return s.tell(tx, admins, models.NoticeAlertEscalated, models.MailAlertEscalated, &a.Alert, c.Name, a.PatientCode)
		})
		if err != nil {
			return n, err
		}
		if won {
			n++
		}
	}
	return n, nil
}
