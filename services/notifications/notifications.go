// Package notifications holds the in-app notices of the screening work:
// who is told what (in the patient's language), created in the transaction
// that changes the screening, and the inbox endpoints' rules.
package notifications

import (
	"aura/i18n"
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
)

// Disclaimer is the one line every result carries, per language.
var Disclaimer = map[string]string{
	"vi": "Chỉ số sàng lọc, không phải chẩn đoán; mọi trường hợp đều được bác sĩ xem xét",
	"en": "Screening indicators, not a diagnosis; a doctor reviews every case",
}

// texts are the title and body of each notice type, per language; the body
// is formatted with the clinic's name.
var texts = map[string]map[string][2]string{
	models.NoticeAnalyzed: {
		"vi": {"Ảnh võng mạc đã được phân tích", "Ảnh của bạn gửi tới %s đã được đo. Bác sĩ của phòng khám sẽ xem xét kết quả. " + Disclaimer["vi"] + "."},
		"en": {"Your retinal image has been analysed", "The image you sent to %s has been measured. A doctor of the clinic will review the result. " + Disclaimer["en"] + "."},
	},
	models.NoticeWaiting: {
		"vi": {"Có ca mới chờ xem xét", "Một ca sàng lọc mới tại %s đang chờ bác sĩ xem xét."},
		"en": {"A case is waiting for review", "A new screening at %s is waiting for a doctor's review."},
	},
	models.NoticeFailed: {
		"vi": {"Không phân tích được ảnh", "Ảnh bạn gửi tới %s không phân tích được. Vui lòng gửi lại ảnh."},
		"en": {"Your image could not be analysed", "The image you sent to %s could not be analysed. Please upload it again."},
	},
	models.NoticeReviewed: {
		"vi": {"Bác sĩ đã xem xét kết quả của bạn", "Bác sĩ tại %s đã xem xét ảnh võng mạc của bạn. Kết quả và báo cáo đã sẵn sàng. " + Disclaimer["vi"] + "."},
		"en": {"A doctor has reviewed your result", "A doctor at %s has reviewed your retinal image. The result and the report are ready. " + Disclaimer["en"] + "."},
	},
}

// New builds a notice of type kind about screening for user, in lang.
func New(kind, userID, screeningID, clinicName, lang string, now models.Clock) *models.Notification {
	t := texts[kind][i18n.Lang(lang)]
	sid := screeningID
	return &models.Notification{ID: uuid.NewString(), UserID: userID, Type: kind, Title: t[0],
		Body: fmt.Sprintf(t[1], clinicName), ScreeningID: &sid, CreatedAt: now.Now(),
		Use: use(kind, lang, []string{"Clinic"}, clinicName)}
}

// Service is the inbox.
type Service struct{ Clock models.Clock }

// List is the caller's inbox, newest first.
func (s *Service) List(ctx context.Context, st *repositories.Store, a models.Actor, unreadOnly bool, page, pageSize int) (repositories.NotificationPage, error) {
	return st.Notifications.List(a.UserID, unreadOnly, page, pageSize)
}

// Read marks one of the caller's notices read; another's is NOT_FOUND.
func (s *Service) Read(ctx context.Context, st *repositories.Store, a models.Actor, id string) (*models.Notification, error) {
	return st.Notifications.MarkRead(a.UserID, id, s.Clock.Now())
}

// ReadAll marks every unread notice of the caller read.
func (s *Service) ReadAll(ctx context.Context, st *repositories.Store, a models.Actor) (int64, error) {
	return st.Notifications.MarkAllRead(a.UserID, s.Clock.Now())
}

// clinicTexts are the title and body of each notice of a clinic's life
// cycle, per language; the body is formatted with the clinic's name and,
// for a rejection or suspension, the admin's reason.
var clinicTexts = map[string]map[string][2]string{
	models.NoticeClinicApproved: {
		"vi": {"Phòng khám đã được duyệt", "Đơn đăng ký phòng khám %s đã được duyệt. Bạn là quản trị viên của phòng khám và có thể mời bác sĩ, kỹ thuật viên."},
		"en": {"Your clinic has been approved", "The application for %s has been approved. You are the clinic's administrator and can invite its doctors and technicians."},
	},
	models.NoticeClinicRejected: {
		"vi": {"Đơn đăng ký phòng khám bị từ chối", "Đơn đăng ký phòng khám %s đã bị từ chối. Lý do: %s"},
		"en": {"Your clinic application was rejected", "The application for %s was rejected. Reason: %s"},
	},
	models.NoticeClinicSuspended: {
		"vi": {"Phòng khám bị tạm ngưng", "Phòng khám %s đã bị tạm ngưng: không nhận ca sàng lọc mới và không xem xét ca. Lý do: %s"},
		"en": {"Your clinic has been suspended", "%s has been suspended: it takes no new screenings and its cases cannot be reviewed. Reason: %s"},
	},
}

// Clinic builds a notice of type kind about the clinic named clinicName
// for user, in lang; reason is the admin's (rejection, suspension).
func Clinic(kind, userID, clinicName, reason, lang string, now models.Clock) *models.Notification {
	t := clinicTexts[kind][i18n.Lang(lang)]
	body := fmt.Sprintf(t[1], clinicName)
	if strings.Count(t[1], "%s") == 2 {
		body = fmt.Sprintf(t[1], clinicName, reason)
	}
	if r := []rune(body); len(r) > 2000 {
		body = string(r[:1999]) + "…"
	}
	return &models.Notification{ID: uuid.NewString(), UserID: userID, Type: kind, Title: t[0], Body: body, CreatedAt: now.Now(),
		Use: use(kind, lang, []string{"Clinic", "Reason"}, clinicName, reason)}
}

// alertTexts are the title and body of the notices of an alert, per
// language; the body is formatted with the clinic's name, the patient's
// code and the alert's reason (alertReasons).
var alertTexts = map[string]map[string][2]string{
	models.NoticeAlertOpened: {
		"vi": {"Cảnh báo mới cần xem", "Một kết quả sàng lọc tại %s (bệnh nhân %s) đã mở cảnh báo: %s. " + Disclaimer["vi"] + "."},
		"en": {"A new alert needs attention", "A screening result at %s (patient %s) opened an alert: %s. " + Disclaimer["en"] + "."},
	},
	models.NoticeAlertEscalated: {
		"vi": {"Cảnh báo chưa được xử lý", "Một cảnh báo tại %s (bệnh nhân %s) vẫn chưa được tiếp nhận: %s. Hãy bảo đảm có bác sĩ xem ca này."},
		"en": {"An alert is still open", "An alert at %s (patient %s) has not been acknowledged yet: %s. Please make sure a doctor looks at the case."},
	},
}

// alertReasons say why an alert was opened, per kind and language; %s is
// the risk level.
var alertReasons = map[string]map[string]string{
	models.AlertHighRisk: {
		"vi": "mức nguy cơ %s",
		"en": "risk level %s",
	},
	models.AlertTrendChange: {
		"vi": "chỉ số thay đổi nhiều so với lần chụp đầu tiên (mức nguy cơ %s)",
		"en": "a metric changed markedly since the first result (risk level %s)",
	},
}

// levelNames are the risk levels in each language.
var levelNames = map[string]map[string]string{
	"vi": {"low": "thấp", "medium": "trung bình", "high": "cao", "critical": "nghiêm trọng"},
	"en": {"low": "low", "medium": "medium", "high": "high", "critical": "critical"},
}

// AlertReason is why an alert of kind at level was opened, in lang.
func AlertReason(kind, level, lang string) string {
	l := i18n.Lang(lang)
	name := levelNames[l][level]
	if name == "" {
		name = level
	}
	return fmt.Sprintf(alertReasons[kind][l], name)
}

// Alert builds a notice of type notice (ALERT_OPENED, ALERT_ESCALATED)
// about an alert of kind at level on screening, for user, in lang.
func Alert(notice, kind, level, userID, screeningID, clinicName, patientCode, lang string, now models.Clock) *models.Notification {
	l := i18n.Lang(lang)
	t := alertTexts[notice][l]
	sid := screeningID
	body := fmt.Sprintf(t[1], clinicName, patientCode, AlertReason(kind, level, l))
	if r := []rune(body); len(r) > 2000 {
		body = string(r[:1999]) + "…"
	}
	return &models.Notification{ID: uuid.NewString(), UserID: userID, Type: notice, Title: t[0], Body: body,
		ScreeningID: &sid, CreatedAt: now.Now(),
		Use: use(notice, l, []string{"Clinic", "Patient", "Reason"}, clinicName, patientCode, AlertReason(kind, level, l))}
}

// messageTexts are the title and body of MESSAGE_RECEIVED, per language;
// the body is formatted with the clinic's name, so that one text (and one
// template an admin may edit) serves the patient and the clinic's staff. The
// message itself is not quoted: it is read in the conversation.
var messageTexts = map[string]map[string][2]string{
	models.NoticeMessageReceived: {
		"vi": {"Tin nhắn mới", "Có tin nhắn mới trong cuộc trò chuyện giữa bệnh nhân và %s. Hãy mở cuộc trò chuyện để đọc."},
		"en": {"New message", "A new message arrived in a conversation between a patient and %s. Open the conversation to read it."},
	},
}

// Message builds the MESSAGE_RECEIVED notice for user (the patient or a
// staff member: one text serves both) about a message in a conversation
// with the clinic named clinicName, in lang; screeningID is the screening
// the message is about, if any.
func Message(userID string, clinicName string, screeningID *string, lang string, now models.Clock) *models.Notification {
	t := messageTexts[models.NoticeMessageReceived][i18n.Lang(lang)]
	return &models.Notification{ID: uuid.NewString(), UserID: userID, Type: models.NoticeMessageReceived, Title: t[0],
		Body: fmt.Sprintf(t[1], clinicName), ScreeningID: screeningID, CreatedAt: now.Now(),
		Use: use(models.NoticeMessageReceived, lang, []string{"Clinic"}, clinicName)}
}
