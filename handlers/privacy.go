package handlers

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"aura/models"
	"aura/repositories"
	"aura/services/accounts"
	"aura/services/privacy"
)

// ExportPatientMe is GET /api/patients/me/export: a ZIP of everything AURA
// holds about the caller, written to the response as it is made (the
// database rows are read first, in one transaction; each stored object is
// then copied from the store through its decrypting read into the archive,
// so neither the archive nor an image is ever held whole in memory). Once
// the archive has begun, a failure cannot become an error answer: the
// connection is cut, so the client sees a broken download rather than a
// ZIP that looks whole. A client that goes away stops the copy; nothing is
// left behind.
func (d *Deps) ExportPatientMe(c *gin.Context) error {
	ctx := c.Request.Context()
	ex, err := d.Privacy.Export(ctx, store(c), actor(c), lang(c))
	if err != nil {
		return err
	}
	c.Header("Content-Type", "application/zip")
	c.Header("Content-Disposition", `attachment; filename="aura-export-`+ex.At.Format("2006-01-02")+`.zip"`)
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	w := &deadlineWriter{w: c.Writer, rc: http.NewResponseController(c.Writer), timeout: d.ExportWriteTimeout}
	if err := d.writeExport(c, w, ex); err != nil {
		logger(c).Warn("export cut short", "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// writeExport writes the archive of ex to w.
func (d *Deps) writeExport(c *gin.Context, w io.Writer, ex *privacy.Export) error {
	ctx := c.Request.Context()
	z := zip.NewWriter(w)
	mod := ex.At
	put := func(name string, method uint16, body func(io.Writer) error) error {
		fw, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: mod})
		if err != nil {
			return err
		}
		return body(fw)
	}
	putJSON := func(name string, v any) error {
		return put(name, zip.Deflate, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		})
	}
	if err := put("README.txt", zip.Deflate, func(w io.Writer) error {
		_, err := io.WriteString(w, privacy.Readme(ex))
		return err
	}); err != nil {
		return err
	}
	if err := putJSON("account.json", userView(ex.User, true)); err != nil {
		return err
	}
	if ex.Patient != nil {
		if err := putJSON("patient.json", patientView(ex.Patient)); err != nil {
			return err
		}
	}
	notes := make([]NotificationView, len(ex.Notifications))
	for i := range ex.Notifications {
		notes[i] = notificationView(&ex.Notifications[i])
	}
	if err := putJSON("notifications.json", notes); err != nil {
		return err
	}
	if err := putJSON("conversations.json", exportConversations(ex.Messages)); err != nil {
		return err
	}
	alerts := make([]ExportAlertView, len(ex.Alerts))
	for i, a := range ex.Alerts {
		alerts[i] = ExportAlertView{ID: a.ID, ClinicID: a.ClinicID, ScreeningID: a.ScreeningID, Kind: a.Kind, Level: a.Level,
			Status: a.Status, CreatedAt: ts(a.CreatedAt), AcknowledgedAt: tsPtr(a.AcknowledgedAt), ResolvedAt: tsPtr(a.ResolvedAt), Note: a.Note}
	}
	if err := putJSON("alerts.json", alerts); err != nil {
		return err
	}
	rows := make([]AuditView, len(ex.Audit))
	for i, r := range ex.Audit {
		rows[i] = AuditView{ID: r.ID, At: ts(r.At), ActorID: r.ActorID, ActorRole: r.ActorRole, Action: r.Action,
			EntityType: r.EntityType, EntityID: r.EntityID}
		// Where others acted, their address is theirs, not the caller's.
		if r.ActorID != nil && *r.ActorID == ex.User.ID {
			rows[i].IP, rows[i].RequestID = r.IP, r.RequestID
		}
	}
	if err := putJSON("audit.json", rows); err != nil {
		return err
	}
	views := make([]ScreeningView, len(ex.Screenings))
	for i := range ex.Screenings {
		views[i] = screeningView(&ex.Screenings[i], ex.Lang)
	}
	if err := putJSON("screenings.json", views); err != nil {
		return err
	}
	for i := range ex.Screenings {
		row := &ex.Screenings[i]
		dir := "screenings/" + row.ID + "/"
		if err := putJSON(dir+"screening.json", views[i]); err != nil {
			return err
		}
		objs, err := d.Privacy.Objects(ctx, row)
		if err != nil {
			return err
		}
		for _, o := range objs {
			rc, err := d.Privacy.Open(ctx, o.Key)
			if errors.Is(err, models.ErrNotFound) {
				continue // gone from the store (a report replaced meanwhile)
			}
			if err != nil {
				return err
			}
			// Images and PDFs are compressed already.
			err = put(dir+o.Name, zip.Store, func(w io.Writer) error {
				_, err := io.Copy(w, rc)
				return err
			})
			rc.Close()
			if err != nil {
				return err
			}
		}
	}
	return z.Close()
}

// deadlineWriter pushes the connection's write deadline (server.write_timeout)
// forward while the archive makes progress: a long download of a large
// export goes on, a client that stops reading is still cut off.
type deadlineWriter struct {
	w       io.Writer
	rc      *http.ResponseController
	timeout time.Duration
	last    time.Time
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if d.timeout > 0 {
		if now := time.Now(); now.Sub(d.last) > time.Second {
			_ = d.rc.SetWriteDeadline(now.Add(d.timeout))
			d.last = now
		}
	}
	return d.w.Write(p)
}

type deleteAccountRequest struct {
	Password string `json:"password"`
	Confirm  string `json:"confirm"`
}

// DeletePatientMe is DELETE /api/patients/me: the account is deactivated at
// once (every session ends) and its personal data erased after
// privacy.erasure_grace.
func (d *Deps) DeletePatientMe(c *gin.Context) error {
	var req deleteAccountRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	at, err := d.Accounts.DeleteAccount(c.Request.Context(), store(c), currentUser(c), actor(c), currentClaims(c).Sid,
		accounts.DeleteAccountInput{Password: req.Password, Confirm: req.Confirm})
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, gin.H{"eraseAfter": ts(at)},
		"Account deleted: you are signed out everywhere, and your personal data will be erased after the grace period")
	return nil
}

// ExportConversationView is one conversation of the patient's export.
type ExportConversationView struct {
	ID       string              `json:"id"`
	Clinic   ClinicRefView       `json:"clinic"`
	Messages []ExportMessageView `json:"messages"`
}

// ExportMessageView is one message of ExportConversationView, oldest first.
type ExportMessageView struct {
	ID          string    `json:"id"`
	SenderRole  string    `json:"senderRole"`
	SenderName  *string   `json:"senderName"`
	Body        string    `json:"body"`
	ScreeningID *string   `json:"screeningId"`
	CreatedAt   Timestamp `json:"createdAt"`
}

// exportConversations groups the export's messages by conversation.
func exportConversations(ms []repositories.ExportMessage) []ExportConversationView {
	out := []ExportConversationView{}
	for _, m := range ms {
		if len(out) == 0 || out[len(out)-1].ID != m.ConversationID {
			out = append(out, ExportConversationView{ID: m.ConversationID, Clinic: ClinicRefView{ID: m.ClinicID, Name: m.ClinicName},
				Messages: []ExportMessageView{}})
		}
		c := &out[len(out)-1]
		c.Messages = append(c.Messages, ExportMessageView{ID: m.MessageID, SenderRole: m.SenderRole, SenderName: m.SenderName,
			Body: m.Body, ScreeningID: m.ScreeningID, CreatedAt: ts(m.CreatedAt)})
	}
	return out
}

// ExportAlertView is one alert of the patient's export: what opened it and
// what the clinic did (who did it is in audit.json).
type ExportAlertView struct {
	ID             string     `json:"id"`
	ClinicID       string     `json:"clinicId"`
	ScreeningID    string     `json:"screeningId"`
	Kind           string     `json:"kind"`
	Level          string     `json:"level"`
	Status         string     `json:"status"`
	CreatedAt      Timestamp  `json:"createdAt"`
	AcknowledgedAt *Timestamp `json:"acknowledgedAt"`
	ResolvedAt     *Timestamp `json:"resolvedAt"`
	Note           *string    `json:"note"`
}
