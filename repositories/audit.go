package repositories

import (
	"time"

	"gorm.io/gorm"

	"aura/models"
)

// Audit appends to the audit trail and pages through it. It has no update or
// delete: the trail is append-only.
type Audit struct{ db *gorm.DB }

// Append writes one row. Call it in the transaction of the change it
// records (or, for a read, before the data is answered).
func (r *Audit) Append(row *models.AuditLog) error {
	return translate(r.db.Create(row).Error)
}

// AuditFilter narrows a listing; empty fields do not filter.
type AuditFilter struct {
	ActorID, Action, EntityType, EntityID string
	From, To                              *time.Time // To is exclusive
}

// AuditPage is one page of the trail.
type AuditPage struct {
	Items []models.AuditLog
	Total int64
}

// List returns the rows matching f, newest first.
func (r *Audit) List(f AuditFilter, page, pageSize int) (AuditPage, error) {
	q := r.db.Model(&models.AuditLog{})
	if f.ActorID != "" {
		q = q.Where("actor_id = ?", f.ActorID)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.EntityType != "" {
		q = q.Where("entity_type = ?", f.EntityType)
	}
	if f.EntityID != "" {
		q = q.Where("entity_id = ?", f.EntityID)
	}
	if f.From != nil {
		q = q.Where("at >= ?", *f.From)
	}
	if f.To != nil {
		q = q.Where("at < ?", *f.To)
	}
	var p AuditPage
	if err := q.Count(&p.Total).Error; err != nil {
		return p, translate(err)
	}
	p.Items = []models.AuditLog{}
	err := q.Order("at DESC, id DESC").Limit(pageSize).Offset((page - 1) * pageSize).Find(&p.Items).Error
	return p, translate(err)
}
