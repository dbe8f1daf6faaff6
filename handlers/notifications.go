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
func (d *Deps) ListNotifications(c *gin.Context) {
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
		Fail(c, models.Invalid(details))
		return
	}
	p, err := d.Notifications.List(c.Request.Context(), store(c), actor(c), unread, page, size)
	if err != nil {
		Fail(c, err)
		return
	}
	items := make([]NotificationView, len(p.Items))
	for i := range p.Items {
		items[i] = notificationView(&p.Items[i])
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": p.Total, "unread": p.Unread, "page": page, "pageSize": size}, "")
}

// ReadNotification is POST /api/notifications/{id}/read.
func (d *Deps) ReadNotification(c *gin.Context) {
	if !bind(c, &struct{}{}, true) {
		return
	}
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	n, err := d.Notifications.Read(c.Request.Context(), store(c), actor(c), id)
	if err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, notificationView(n), "")
}

// ReadAllNotifications is POST /api/notifications/read-all.
func (d *Deps) ReadAllNotifications(c *gin.Context) {
	if !bind(c, &struct{}{}, true) {
		return
	}
	n, err := d.Notifications.ReadAll(c.Request.Context(), store(c), actor(c))
	if err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, gin.H{"updated": n}, "")
}
