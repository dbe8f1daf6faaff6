// Package conversations holds the rules of the conversations between a
// patient and a clinic: who may open, read and write them, what a message
// may hold, who is told of it (a notice at once, a live event, an email when
// it stays unread), and the audit of staff reads.
package conversations

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"aura/mail"
	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/notifications"
	"aura/services/policy"
)

// MaxBody is the longest message, in characters.
const MaxBody = 4000

// MaxLimit is the most messages one read returns.
const MaxLimit = 100

// Settings are the configured limits.
type Settings struct {
	// PerMinute is limits.messages.per_minute: messages one sender may post
	// per minute, across instances (0: no limit).
	PerMinute int
	// EmailAfter is messages.email_after: how long a message stays unread
	// before its recipients are emailed.
	EmailAfter time.Duration
	// FrontendURL is where the emails link to.
	FrontendURL string
}

// Service is the conversations' rules.
type Service struct {
	Clock    models.Clock
	Settings Settings
}

// Open returns the conversation of the caller (a patient: clinicID) or of
// patientID (staff of clinicID) with the clinic, creating it when there is
// none; created says which.
func (s *Service) Open(ctx context.Context, st *repositories.Store, a models.Actor, clinicID, patientID string) (*repositories.ConversationRow, bool, error) {
	details := map[string]string{}
	if clinicID == "" {
		details["clinicId"] = "is required"
	} else if !isID(clinicID) {
		details["clinicId"] = "must be an id"
	}
	if patientID != "" && !isID(patientID) {
		details["patientId"] = "must be an id"
	}
	if len(details) > 0 {
		return nil, false, models.Invalid(details)
	}
	clinicID, patientID = strings.ToLower(clinicID), strings.ToLower(patientID)
	if patientID == "" {
		// A patient opens their own conversation with a clinic they have a
		// screening at or are enrolled in.
		if err := policy.Can(a, policy.PermOwnConversations); err != nil {
			if policy.Can(a, policy.PermConversations) == nil {
				return nil, false, models.Invalid(map[string]string{"patientId": "is required"})
			}
			return nil, false, err
		}
		patientID = a.UserID
	} else {
		if err := policy.CanIn(st, a, clinicID, policy.PermConversations); err != nil {
			return nil, false, err
		}
		if roles, err := st.Conversations.StaffRoles(clinicID, a.UserID); err != nil {
			return nil, false, err
		} else if len(roles) == 0 {
			return nil, false, models.ErrNotFound
		}
	}
	enrolled, err := st.Patients.Enrolled(clinicID, patientID)
	if err != nil {
		return nil, false, err
	}
	if !enrolled {
		return nil, false, models.ErrNotFound
	}
	now := s.Clock.Now()
	c, created, err := st.Conversations.Open(&models.Conversation{ID: uuid.NewString(), ClinicID: clinicID, PatientID: patientID,
		CreatedAt: now, LastActivityAt: now})
	if err != nil {
		return nil, false, err
	}
	row, err := st.Conversations.One(c.ID, a.UserID)
	return row, created, err
}

// List is a page of the caller's conversations, latest activity first. A
// staff member's read of the latest messages is audited, one row per
// conversation of another's.
func (s *Service) List(ctx context.Context, st *repositories.Store, a models.Actor, page, pageSize int) (repositories.ConversationPage, error) {
	p, err := st.Conversations.List(a.UserID, page, pageSize)
	if err != nil {
		return p, err
	}
	now := s.Clock.Now()
	roles := map[string]string{} // the role the caller writes under, per clinic
	for _, r := range p.Items {
		if r.Last == nil || (r.PatientUserID != nil && *r.PatientUserID == a.UserID) {
			continue
		}
		role, ok := roles[r.ClinicID]
		if !ok {
			rs, err := st.Conversations.StaffRoles(r.ClinicID, a.UserID)
			if err != nil {
				return p, err
			}
			if len(rs) > 0 {
				role = rs[0]
			}
			roles[r.ClinicID] = role
		}
		if err := audit.Record(st, a, role, models.AuditMessagesRead, models.EntityConversation, r.ID, now); err != nil {
			return p, err
		}
	}
	return p, nil
}

// participant is the conversation and the role the caller takes part in it
// under; a conversation that is not theirs is NOT_FOUND, and a caller none
// of whose roles ever takes part in conversations FORBIDDEN.
func participant(st *repositories.Store, a models.Actor, id string) (*models.Conversation, string, error) {
	if policy.Can(a, policy.PermOwnConversations) != nil && policy.Can(a, policy.PermConversations) != nil {
		return nil, "", models.ErrForbidden
	}
	c, role, err := st.Conversations.Role(id, a.UserID)
	if err != nil {
		return nil, "", err
	}
	if !a.Has(role) {
		return nil, "", models.ErrNotFound
	}
	return c, role, nil
}

// Messages returns up to limit messages of conversation id, newest first,
// older than message before when set. A staff member's read is audited.
func (s *Service) Messages(ctx context.Context, st *repositories.Store, a models.Actor, id, before string, limit int) ([]models.Message, error) {
	c, role, err := participant(st, a, id)
	if err != nil {
		return nil, err
	}
	var from *models.Message
	if before != "" {
		if from, err = st.Conversations.Message(c.ID, strings.ToLower(before)); errors.Is(err, models.ErrNotFound) {
			return nil, models.Invalid(map[string]string{"before": "is not a message of this conversation"})
		} else if err != nil {
			return nil, err
		}
	}
	if role != models.RolePatient {
		if err := audit.Record(st, a, role, models.AuditMessagesRead, models.EntityConversation, c.ID, s.Clock.Now()); err != nil {
			return nil, err
		}
	}
	return st.Conversations.Messages(c.ID, from, limit)
}

// CheckBody returns why body is not a message, or "".
func CheckBody(body string) string {
	switch {
	case !utf8.ValidString(body):
		return "must be valid text"
	case strings.TrimSpace(body) == "":
		return "must not be empty"
	case utf8.RuneCountInString(body) > MaxBody:
		return "must be at most 4000 characters"
	case strings.ContainsFunc(body, func(r rune) bool { return r != '\n' && (unicode.IsControl(r) || r == '\u2028' || r == '\u2029') }):
		return "must not contain control characters other than line breaks"
	}
	return ""
}

// Post writes a message from the caller in conversation id. The other side
// is told: a MESSAGE_RECEIVED notice (to the patient; or, from the patient,
// to the patient's assigned doctor, else to every DOCTOR and CLINIC_ADMIN of
// the clinic), and an email if it is still unread after EmailAfter. Every
// participant's stream gets a message event.
func (s *Service) Post(ctx context.Context, st *repositories.Store, a models.Actor, id, body string, screeningID *string) (*models.Message, error) {
	details := map[string]string{}
	if why := CheckBody(body); why != "" {
		details["body"] = why
	}
	if screeningID != nil && !isID(*screeningID) {
		details["screeningId"] = "must be an id"
	}
	if len(details) > 0 {
		return nil, models.Invalid(details)
	}
	c, role, err := participant(st, a, id)
	if err != nil {
		return nil, err
	}
	if screeningID != nil {
		sid := strings.ToLower(*screeningID)
		screeningID = &sid
		ok, err := st.Conversations.ScreeningAt(sid, c.PatientID, c.ClinicID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, models.Invalid(map[string]string{"screeningId": "is not a screening of this patient at this clinic"})
		}
	}
	now := s.Clock.Now()
	key := "messages:" + a.UserID
	if wait, err := st.Limits.Claim(key, s.Settings.PerMinute, time.Minute, now); err != nil {
		return nil, err
	} else if wait > 0 {
		return nil, models.RateLimited(wait)
	}
	id7, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	m := &models.Message{ID: id7.String(), ConversationID: c.ID, SenderID: a.UserID, SenderRole: role, Body: body,
		ScreeningID: screeningID, CreatedAt: now}
	err = st.Tx(func(tx *repositories.Store) error {
		if err := tx.Conversations.AddMessage(m); err != nil {
			return err
		}
		people, err := tx.Conversations.Participants(c)
		if err != nil {
			return err
		}
		others, err := s.otherSide(tx, c, role, people, a.UserID)
		if err != nil {
			return err
		}
		row, err := tx.Conversations.One(c.ID, a.UserID)
		if err != nil {
			return err
		}
		var notices []*models.Notification
		var mailTo []string
		for _, p := range others {
			notices = append(notices, notifications.Message(p.UserID, row.ClinicName, screeningID, p.Lang, s.Clock))
			mailTo = append(mailTo, p.UserID)
		}
		if err := tx.Notifications.Add(notices...); err != nil {
			return err
		}
		if err := tx.Conversations.AddMails(m, mailTo, now.Add(s.Settings.EmailAfter)); err != nil {
			return err
		}
		stored, err := tx.Conversations.Message(c.ID, m.ID)
		if err != nil {
			return err
		}
		*m = *stored
		everyone := make([]string, 0, len(people))
		for _, p := range people {
			everyone = append(everyone, p.UserID)
		}
		return tx.Events.Publish(models.EventMessage, everyone, MessageData(m), now)
	})
	if err != nil {
		_ = st.Limits.Release(key)
		return nil, err
	}
	return m, nil
}

// otherSide is who is told of a message written under role: the patient of
// a staff member's message; the patient's assigned doctor of the patient's
// (every DOCTOR and CLINIC_ADMIN of the clinic when none is assigned). The
// sender is never told of their own message.
func (s *Service) otherSide(tx *repositories.Store, c *models.Conversation, role string, people []repositories.Participant, sender string) ([]repositories.Participant, error) {
	var out []repositories.Participant
	if role != models.RolePatient {
		for _, p := range people {
			if p.Role == models.RolePatient && p.UserID != sender {
				out = append(out, p)
			}
		}
		return out, nil
	}
	lead, err := tx.Patients.AssignedDoctor(c.ClinicID, c.PatientID)
	if err != nil {
		return nil, err
	}
	for _, p := range people {
		if p.Role != models.RolePatient && p.UserID != sender && (lead == nil || p.UserID == lead.UserID) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Read moves the caller's read marker up to message upTo and returns how
// many messages they have still not read there.
func (s *Service) Read(ctx context.Context, st *repositories.Store, a models.Actor, id, upTo string) (int64, error) {
	if upTo == "" {
		return 0, models.Invalid(map[string]string{"upTo": "is required"})
	}
	if !isID(upTo) {
		return 0, models.Invalid(map[string]string{"upTo": "must be an id"})
	}
	c, _, err := participant(st, a, id)
	if err != nil {
		return 0, err
	}
	m, err := st.Conversations.Message(c.ID, strings.ToLower(upTo))
	if errors.Is(err, models.ErrNotFound) {
		return 0, models.Invalid(map[string]string{"upTo": "is not a message of this conversation"})
	} else if err != nil {
		return 0, err
	}
	if err := st.Conversations.MarkRead(a.UserID, m); err != nil {
		return 0, err
	}
	return st.Conversations.Unread(c.ID, a.UserID)
}

// MailUnread queues the emails owed at now for messages still unread
// (each message and recipient considered once, whichever instance runs it);
// it returns how many it queued.
func (s *Service) MailUnread(ctx context.Context, st *repositories.Store, now time.Time, batch int) (int, error) {
	sent := 0
	for ctx.Err() == nil {
		due, err := st.Conversations.DueMails(now, batch)
		if err != nil || len(due) == 0 {
			return sent, err
		}
		for _, d := range due {
			err := st.Tx(func(tx *repositories.Store) error {
				ok, err := tx.Conversations.MailDone(d.MessageID, d.UserID)
				if err != nil || !ok || !d.Unread {
					return err
				}
				name := d.Email
				if d.FullName != nil && *d.FullName != "" {
					name = *d.FullName
				}
				msg, err := mail.Compose(models.MailMessageReceived, d.Email, mail.Data{Name: name, Clinic: d.ClinicName, Lang: d.Lang,
					When: now.Add(-s.Settings.EmailAfter),
					Link: strings.TrimRight(s.Settings.FrontendURL, "/") + "/conversations/" + d.ConversationID}, now)
				if err != nil {
					return err
				}
				sent++
				return tx.Outbox.Enqueue(msg)
			})
			if err != nil {
				return sent, err
			}
		}
		if len(due) < batch {
			return sent, nil
		}
	}
	return sent, ctx.Err()
}

// MessageData is the Message object of the API (and of message events).
func MessageData(m *models.Message) repositories.MessageData {
	return repositories.MessageData{ID: m.ID, ConversationID: m.ConversationID,
		Sender: repositories.SenderData{UserID: m.SenderID, FullName: m.SenderName, Role: m.SenderRole},
		Body:   m.Body, ScreeningID: m.ScreeningID, CreatedAt: m.CreatedAt.UTC().Format(repositories.TimeLayout)}
}

func isID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}
