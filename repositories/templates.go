package repositories

import (
	"errors"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"aura/models"
	"aura/texts"
)

// Templates stores the admins' edited mail and notice texts. Every mail and
// notice reads its row where it is written, in the same transaction: there
// is no cache, so an edit is used by every instance from the next message.
type Templates struct {
	db *gorm.DB
	// memo keeps what one batch of notices read (nil: read every time).
	memo map[[2]string]*models.MessageTemplate
}

// Get is the edited template of kind, channel and lang; nil when the
// built-in text is in force.
func (r *Templates) Get(kind, channel, lang string) (*models.MessageTemplate, error) {
	var t models.MessageTemplate
	err := r.db.Where("kind = ? AND channel = ? AND lang = ?", kind, channel, lang).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, translate(err)
	}
	return &t, nil
}

// List is every edited template.
func (r *Templates) List() ([]models.MessageTemplate, error) {
	var out []models.MessageTemplate
	return out, translate(r.db.Order("channel, kind, lang").Find(&out).Error)
}

// Put stores t, replacing the edit of its kind, channel and language.
func (r *Templates) Put(t *models.MessageTemplate) error {
	return translate(r.db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "kind"}, {Name: "channel"}, {Name: "lang"}},
		DoUpdates: clause.AssignmentColumns([]string{"subject", "body", "updated_at", "updated_by"}),
	}).Create(t).Error)
}

// Delete removes the edit of kind, channel and lang; false when there was none.
func (r *Templates) Delete(kind, channel, lang string) (bool, error) {
	res := r.db.Where("kind = ? AND channel = ? AND lang = ?", kind, channel, lang).Delete(&models.MessageTemplate{})
	return res.RowsAffected > 0, translate(res.Error)
}

// applyEmail renders m again with the edited template of its kind and
// language, if there is one (the built-in text stays when it fails).
func (r *Templates) applyEmail(m *models.OutboxMessage) error {
	if m.Use == nil {
		return nil
	}
	t, err := r.Get(m.Use.Kind, texts.Email, m.Use.Lang)
	if err != nil || t == nil {
		return err
	}
	if out, ok := texts.Apply(texts.Email, texts.Text{Subject: t.Subject, Body: t.Body}, m.Use.Vars, m.Use.Kind, m.Use.Lang); ok {
		m.Subject, m.TextBody, m.HTMLBody = out.Subject, out.Body, out.HTML
	}
	return nil
}

// applyNotice renders n again with the edited template of its kind and
// language, if there is one (the built-in text stays when it fails).
func (r *Templates) applyNotice(n *models.Notification) error {
	if n.Use == nil {
		return nil
	}
	key := [2]string{n.Use.Kind, n.Use.Lang}
	t, seen := r.memo[key]
	if !seen {
		var err error
		if t, err = r.Get(n.Use.Kind, texts.Notice, n.Use.Lang); err != nil {
			return err
		}
		if r.memo != nil {
			r.memo[key] = t
		}
	}
	if t == nil {
		return nil
	}
	if out, ok := texts.Apply(texts.Notice, texts.Text{Subject: t.Subject, Body: t.Body}, n.Use.Vars, n.Use.Kind, n.Use.Lang); ok {
		n.Title, n.Body = out.Subject, out.Body
	}
	return nil
}
