package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"aura/models"
)

// NotificationView is the Notification object of the contract.
type NotificationView struct {
	ID          string     `json:"id"`
	Type        string     `json:"type"`
	Title       string     `json:"title"`
	Body        string     `json:"body"`
	ScreeningID *string    `json:"screeningId"`
	CreatedAt   Timestamp  `json:"createdAt"`
	ReadAt      *Timestamp `json:"readAt"`
}

func notificationView(n *models.Notification) NotificationView {
	return NotificationView{ID: n.ID, Type: n.Type, Title: n.Title, Body: n.Body, ScreeningID: n.ScreeningID,
		CreatedAt: ts(n.CreatedAt), ReadAt: tsPtr(n.ReadAt)}
}

// ListNotifications is GET /api/notifications (?unread=true).
func (d *Deps) ListNotifications(c *gin.Context) error {
	details := map[string]string{}
	page := intQuery(c, "page", 1, 1, 1_000_000, details)
	size := intQuery(c, "pageSize", defaultPageSize, 1, maxPageSize, details)
	unread := false
	switch c.Query("unread") {
	case "", "false":
	case "true":
		unread = true
	default:
		details["unread"] = "must be true or false"
	}
	if len(details) > 0 {
		return models.Invalid(details)
	}
	p, err := d.Notifications.List(c.Request.Context(), store(c), actor(c), unread, page, size)
	if err != nil {
		return err
	}
	items := make([]NotificationView, len(p.Items))
	for i := range p.Items {
		items[i] = notificationView(&p.Items[i])
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": p.Total, "unread": p.Unread, "page": page, "pageSize": size}, "")
	return nil
}

// ReadNotification is POST /api/notifications/{id}/read.
func (d *Deps) ReadNotification(c *gin.Context) error {
	if err := Bind(c, &struct{}{}, true); err != nil {
		return err
	}
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	n, err := d.Notifications.Read(c.Request.Context(), store(c), actor(c), id)
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, notificationView(n), "")
	return nil
}

// ReadAllNotifications is POST /api/notifications/read-all.
func (d *Deps) ReadAllNotifications(c *gin.Context) error {
	if err := Bind(c, &struct{}{}, true); err != nil {
		return err
	}
	n, err := d.Notifications.ReadAll(c.Request.Context(), store(c), actor(c))
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, gin.H{"updated": n}, "")
	return nil
}
