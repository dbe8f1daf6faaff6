package repositories

import (
	"time"

	"gorm.io/gorm"

	"aura/models"
)

// Notifications stores the notices of users' inboxes.
type Notifications struct{ db *gorm.DB }

// Add inserts notices (in the transaction of the change they announce).
func (r *Notifications) Add(ns ...*models.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	// An admin's edited template of a notice's kind and language replaces
	// its texts (one read per kind and language of the batch).
	t := &Templates{db: r.db, memo: map[[2]string]*models.MessageTemplate{}}
	for _, n := range ns {
		if err := t.applyNotice(n); err != nil {
			return err
		}
	}
	if err := r.db.Create(ns).Error; err != nil {
		return translate(err)
	}
	return (&Events{db: r.db}).publishNotices(ns)
}

// NotificationPage is one page of an inbox.
type NotificationPage struct {
	Items  []models.Notification
	Total  int64
	Unread int64
}

// List returns the user's notices, newest first (unread only if asked).
func (r *Notifications) List(userID string, unreadOnly bool, page, pageSize int) (NotificationPage, error) {
	var p NotificationPage
	if err := r.db.Model(&models.Notification{}).Where("user_id = ? AND read_at IS NULL", userID).Count(&p.Unread).Error; err != nil {
		return p, translate(err)
	}
	q := r.db.Model(&models.Notification{}).Where("user_id = ?", userID)
	if unreadOnly {
		q = q.Where("read_at IS NULL")
	}
	if err := q.Count(&p.Total).Error; err != nil {
		return p, translate(err)
	}
	p.Items = []models.Notification{}
	err := q.Order("created_at DESC, id DESC").Limit(pageSize).Offset((page - 1) * pageSize).Find(&p.Items).Error
	return p, translate(err)
}

// MarkRead marks the user's notice read (once: a second call keeps the first
// time) and returns it; models.ErrNotFound when it is not the user's.
func (r *Notifications) MarkRead(userID, id string, now time.Time) (*models.Notification, error) {
	if err := r.db.Model(&models.Notification{}).Where("id = ? AND user_id = ? AND read_at IS NULL", id, userID).
		Update("read_at", now).Error; err != nil {
		return nil, translate(err)
	}
	var n models.Notification
	if err := r.db.Where("id = ? AND user_id = ?", id, userID).Take(&n).Error; err != nil {
		return nil, translate(err)
	}
	return &n, nil
}

// MarkAllRead marks every unread notice of the user read; it returns how many.
func (r *Notifications) MarkAllRead(userID string, now time.Time) (int64, error) {
	res := r.db.Model(&models.Notification{}).Where("user_id = ? AND read_at IS NULL", userID).Update("read_at", now)
	return res.RowsAffected, translate(res.Error)
}
