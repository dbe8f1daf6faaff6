package repositories

import (
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"aura/models"
)

// Conversations stores the threads between patients and clinics, their
// messages, read markers and the emails owed for unread messages.
type Conversations struct{ db *gorm.DB }

// staffRole is a condition true when column userCol names an active account
// that holds a DOCTOR or CLINIC_ADMIN membership of the clinic in clinicCol
// and still holds that role: who writes for a clinic in its conversations.
func staffRole(userCol, clinicCol string) string {
	return `EXISTS (SELECT 1 FROM clinic_members sm JOIN users su ON su.id = sm.user_id
		JOIN user_roles sur ON sur.user_id = su.id JOIN roles sro ON sro.id = sur.role_id AND sro.name = sm.role
		WHERE sm.clinic_id = ` + clinicCol + ` AND sm.user_id = ` + userCol + `
		AND sm.role IN ('` + models.RoleDoctor + `', '` + models.RoleClinicAdmin + `') AND su.is_active = ` + trueLiteral + `)`
}

// Open returns the conversation of patientID and clinicID, creating it
// (with c's id and time) when there is none: created says which. One
// conditional insert on the unique pair, so concurrent opens agree.
func (r *Conversations) Open(c *models.Conversation) (*models.Conversation, bool, error) {
	res := r.db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "clinic_id"}, {Name: "patient_id"}}, DoNothing: true}).Create(c)
	if res.Error != nil {
		return nil, false, translate(res.Error)
	}
	var out models.Conversation
	if err := r.db.Where("clinic_id = ? AND patient_id = ?", c.ClinicID, c.PatientID).Take(&out).Error; err != nil {
		return nil, false, translate(err)
	}
	return &out, res.RowsAffected == 1 && out.ID == c.ID, nil
}

// Role is the role under which userID takes part in conversation id:
// PATIENT for the patient's own account, DOCTOR or CLINIC_ADMIN for the
// clinic's staff (DOCTOR when both); models.ErrNotFound when the
// conversation is not theirs (or does not exist).
func (r *Conversations) Role(id, userID string) (*models.Conversation, string, error) {
	var c models.Conversation
	if err := r.db.Where("id = ?", id).Take(&c).Error; err != nil {
		return nil, "", translate(err)
	}
	var n int64
	if err := r.db.Model(&models.Patient{}).Where("id = ? AND user_id = ?", c.PatientID, userID).Count(&n).Error; err != nil {
		return nil, "", translate(err)
	}
	if n > 0 {
		return &c, models.RolePatient, nil
	}
	roles, err := r.StaffRoles(c.ClinicID, userID)
	if err != nil {
		return nil, "", err
	}
	if len(roles) == 0 {
		return nil, "", models.ErrNotFound
	}
	return &c, roles[0], nil
}

// StaffRoles are the roles (DOCTOR first, then CLINIC_ADMIN) under which
// userID writes for clinicID: memberships whose role the active account
// still holds.
func (r *Conversations) StaffRoles(clinicID, userID string) ([]string, error) {
	var roles []string
	err := r.db.Raw(`SELECT sm.role FROM clinic_members sm JOIN users su ON su.id = sm.user_id
		JOIN user_roles sur ON sur.user_id = su.id JOIN roles sro ON sro.id = sur.role_id AND sro.name = sm.role
		WHERE sm.clinic_id = ? AND sm.user_id = ? AND sm.role IN (?, ?) AND su.is_active = `+trueLiteral+` ORDER BY sm.role DESC`,
		clinicID, userID, models.RoleDoctor, models.RoleClinicAdmin).Scan(&roles).Error
	return roles, translate(err)
}

// Participant is one account taking part in a conversation.
type Participant struct {
	UserID   string
	Email    string
	FullName *string
	Lang     string
	Role     string
}

// Participants are the accounts of conversation c: the patient's (when the
// record has one) and the clinic's DOCTORs and CLINIC_ADMINs.
func (r *Conversations) Participants(c *models.Conversation) ([]Participant, error) {
	var out []Participant
	err := r.db.Raw(`SELECT u.id AS user_id, u.email, u.full_name, u.lang, 'PATIENT' AS role FROM patients p JOIN users u ON u.id = p.user_id
		WHERE p.id = ? AND u.is_active = `+trueLiteral+`
		UNION SELECT DISTINCT u.id, u.email, u.full_name, u.lang, 'STAFF' FROM clinic_members m JOIN users u ON u.id = m.user_id
		WHERE m.clinic_id = ? AND `+staffRole("m.user_id", "m.clinic_id"), c.PatientID, c.ClinicID).Scan(&out).Error
	return out, translate(err)
}

// ScreeningAt reports whether screening id is one of patientID's at clinicID.
func (r *Conversations) ScreeningAt(id, patientID, clinicID string) (bool, error) {
	var n int64
	err := r.db.Model(&models.Screening{}).Where("id = ? AND patient_id = ? AND clinic_id = ?", id, patientID, clinicID).Count(&n).Error
	return n > 0, translate(err)
}

// AddMessage stores m and makes it its conversation's latest activity.
func (r *Conversations) AddMessage(m *models.Message) error {
	if err := r.db.Create(m).Error; err != nil {
		return translate(err)
	}
	return translate(r.db.Model(&models.Conversation{}).Where("id = ? AND last_activity_at < ?", m.ConversationID, m.CreatedAt).
		Update("last_activity_at", m.CreatedAt).Error)
}

const messageSelect = `SELECT m.*, COALESCE(u.full_name, '') AS sender_name FROM messages m LEFT JOIN users u ON u.id = m.sender_id`

// Message returns message id of conversation convID; models.ErrNotFound
// when it is not one of its messages.
func (r *Conversations) Message(convID, id string) (*models.Message, error) {
	var out []models.Message
	if err := r.db.Raw(messageSelect+` WHERE m.conversation_id = ? AND m.id = ?`, convID, id).Scan(&out).Error; err != nil {
		return nil, translate(err)
	}
	if len(out) == 0 {
		return nil, models.ErrNotFound
	}
	return &out[0], nil
}

// Messages returns up to limit messages of conversation convID, newest
// first; with before, only those older than it.
func (r *Conversations) Messages(convID string, before *models.Message, limit int) ([]models.Message, error) {
	q, args := messageSelect+` WHERE m.conversation_id = ?`, []any{convID}
	if before != nil {
		q += ` AND (m.created_at < ? OR (m.created_at = ? AND m.id < ?))`
		args = append(args, before.CreatedAt, before.CreatedAt, before.ID)
	}
	out := []models.Message{}
	err := r.db.Raw(q+` ORDER BY m.created_at DESC, m.id DESC LIMIT ?`, append(args, limit)...).Scan(&out).Error
	return out, translate(err)
}

// unreadCond is true for a message m (of conversation column convCol) that
// user ? did not write and has not read.
const unreadCond = `m.sender_id <> ? AND NOT EXISTS (SELECT 1 FROM conversation_reads r WHERE r.conversation_id = m.conversation_id
	AND r.user_id = ? AND (m.created_at < r.read_at OR (m.created_at = r.read_at AND m.id <= r.read_id)))`

// Unread counts the messages of conversation convID userID has not read.
func (r *Conversations) Unread(convID, userID string) (int64, error) {
	var n int64
	err := r.db.Raw(`SELECT COUNT(*) FROM messages m WHERE m.conversation_id = ? AND `+unreadCond, convID, userID, userID).Scan(&n).Error
	return n, translate(err)
}

// MarkRead moves userID's read marker of the conversation up to m (never
// back).
func (r *Conversations) MarkRead(userID string, m *models.Message) error {
	row := &models.ConversationRead{ConversationID: m.ConversationID, UserID: userID, ReadAt: m.CreatedAt, ReadID: m.ID}
	return translate(r.db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "conversation_id"}, {Name: "user_id"}},
		DoUpdates: clause.Assignments(map[string]any{"read_at": m.CreatedAt, "read_id": m.ID}),
		Where: clause.Where{Exprs: []clause.Expression{gorm.Expr("conversation_reads.read_at < ? OR (conversation_reads.read_at = ? AND conversation_reads.read_id < ?)",
			m.CreatedAt, m.CreatedAt, m.ID)}},
	}).Create(row).Error)
}

// ConversationRow is one conversation of a list.
type ConversationRow struct {
	models.Conversation
	ClinicName    string
	PatientName   string
	PatientUserID *string
	Unread        int64
	Last          *models.Message `gorm:"-"`
}

// ConversationPage is one page of a user's conversations.
type ConversationPage struct {
	Items []ConversationRow
	Total int64
}

// mine is the condition of the conversations userID takes part in (the
// patient's own, and those of the clinics they write for).
const mineCond = `(c.patient_id IN (SELECT p.id FROM patients p WHERE p.user_id = ?) OR c.clinic_id IN
	(SELECT sm.clinic_id FROM clinic_members sm WHERE sm.user_id = ? AND sm.role IN ('DOCTOR', 'CLINIC_ADMIN') AND ` +
	`EXISTS (SELECT 1 FROM users su JOIN user_roles sur ON sur.user_id = su.id JOIN roles sro ON sro.id = sur.role_id
		WHERE su.id = sm.user_id AND sro.name = sm.role AND su.is_active = ` + trueLiteral + `)))`

// List returns a page of userID's conversations, latest activity first, each
// with its latest message and how many messages userID has not read.
func (r *Conversations) List(userID string, page, pageSize int) (ConversationPage, error) {
	var p ConversationPage
	if err := r.db.Raw(`SELECT COUNT(*) FROM conversations c WHERE `+mineCond, userID, userID).Scan(&p.Total).Error; err != nil {
		return p, translate(err)
	}
	p.Items = []ConversationRow{}
	err := r.db.Raw(`SELECT c.*, cl.name AS clinic_name, COALESCE(u.full_name, p.full_name, '') AS patient_name, p.user_id AS patient_user_id,
		(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND `+unreadCond+`) AS unread
		FROM conversations c JOIN clinics cl ON cl.id = c.clinic_id JOIN patients p ON p.id = c.patient_id
		LEFT JOIN users u ON u.id = p.user_id
		WHERE `+mineCond+` ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ? OFFSET ?`,
		userID, userID, userID, userID, pageSize, (page-1)*pageSize).Scan(&p.Items).Error
	if err != nil {
		return p, translate(err)
	}
	for i := range p.Items {
		last, err := r.Messages(p.Items[i].ID, nil, 1)
		if err != nil {
			return p, err
		}
		if len(last) == 1 {
			p.Items[i].Last = &last[0]
		}
	}
	return p, nil
}

// One returns conversation id as a list shows it to userID.
func (r *Conversations) One(id, userID string) (*ConversationRow, error) {
	var rows []ConversationRow
	err := r.db.Raw(`SELECT c.*, cl.name AS clinic_name, COALESCE(u.full_name, p.full_name, '') AS patient_name, p.user_id AS patient_user_id,
		(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND `+unreadCond+`) AS unread
		FROM conversations c JOIN clinics cl ON cl.id = c.clinic_id JOIN patients p ON p.id = c.patient_id
		LEFT JOIN users u ON u.id = p.user_id WHERE c.id = ?`, userID, userID, id).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		return nil, models.ErrNotFound
	}
	last, err := r.Messages(id, nil, 1)
	if err != nil {
		return nil, err
	}
	if len(last) == 1 {
		rows[0].Last = &last[0]
	}
	return &rows[0], nil
}

// AddMails records that each of userIDs gets an email about message m if it
// is still unread at due.
func (r *Conversations) AddMails(m *models.Message, userIDs []string, due time.Time) error {
	rows := make([]models.MessageMail, 0, len(userIDs))
	for _, u := range userIDs {
		rows = append(rows, models.MessageMail{MessageID: m.ID, UserID: u, DueAt: due})
	}
	if len(rows) == 0 {
		return nil
	}
	return translate(r.db.Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error)
}

// DueMail is an email owed for an unread message.
type DueMail struct {
	MessageID, UserID, ConversationID, ClinicName, Email, Lang string
	FullName                                                   *string
	Unread                                                     bool
}

// DueMails returns up to limit emails due at now, with
// whether the message is still unread by its recipient.
func (r *Conversations) DueMails(now time.Time, limit int) ([]DueMail, error) {
	var out []DueMail
	err := r.db.Raw(`SELECT mm.message_id, mm.user_id, m.conversation_id, cl.name AS clinic_name, u.email, u.lang, u.full_name,
		CASE WHEN EXISTS (SELECT 1 FROM conversation_reads r WHERE r.conversation_id = m.conversation_id AND r.user_id = mm.user_id
			AND (m.created_at < r.read_at OR (m.created_at = r.read_at AND m.id <= r.read_id))) OR u.is_active <> `+trueLiteral+`
			THEN 0 ELSE 1 END AS unread
		FROM message_mails mm JOIN messages m ON m.id = mm.message_id JOIN conversations c ON c.id = m.conversation_id
		JOIN clinics cl ON cl.id = c.clinic_id JOIN users u ON u.id = mm.user_id
		WHERE mm.due_at <= ? ORDER BY mm.due_at LIMIT ?`, now, limit).Scan(&out).Error
	return out, translate(err)
}

// MailDone deletes one owed email (queued or needless); false when another
// run took it first.
func (r *Conversations) MailDone(messageID, userID string) (bool, error) {
	res := r.db.Where("message_id = ? AND user_id = ?", messageID, userID).Delete(&models.MessageMail{})
	return res.RowsAffected == 1, translate(res.Error)
}
