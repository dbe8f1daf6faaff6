package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"aura/services/audit"
)

// AuditView is one row of the audit trail.
type AuditView struct {
	ID         uint64    `json:"id"`
	At         Timestamp `json:"at"`
	ActorID    *string   `json:"actorId"`
	ActorRole  *string   `json:"actorRole"`
	Action     string    `json:"action"`
	EntityType string    `json:"entityType"`
	EntityID   string    `json:"entityId"`
	IP         *string   `json:"ip"`
	RequestID  *string   `json:"requestId"`
}

// ListAuditLogs is GET /api/admin/audit-logs.
func (d *Deps) ListAuditLogs(c *gin.Context) error {
	page, size, err := pageQuery(c)
	if err != nil {
		return err
	}
	p, err := d.Audit.List(c.Request.Context(), store(c), actor(c), audit.Query{
		ActorID: c.Query("actorId"), Action: c.Query("action"), EntityType: c.Query("entityType"),
		EntityID: c.Query("entityId"), From: c.Query("from"), To: c.Query("to"), Page: page, PageSize: size,
	})
	if err != nil {
		return err
	}
	items := make([]AuditView, len(p.Items))
	for i, r := range p.Items {
		items[i] = AuditView{ID: r.ID, At: ts(r.At), ActorID: r.ActorID, ActorRole: r.ActorRole, Action: r.Action,
			EntityType: r.EntityType, EntityID: r.EntityID, IP: r.IP, RequestID: r.RequestID}
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": p.Total, "page": page, "pageSize": size}, "")
	return nil
}
