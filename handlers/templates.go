package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"aura/services/templates"
)

// TemplateView is one mail or notice text as the admin console shows it.
type TemplateView struct {
	Kind      string     `json:"kind"`
	Channel   string     `json:"channel"`
	Lang      string     `json:"lang"`
	Subject   string     `json:"subject"`
	Body      string     `json:"body"`
	UpdatedAt *Timestamp `json:"updatedAt"`
	Variables []string   `json:"variables"`
}

func templateView(t templates.Template) TemplateView {
	vars := t.Variables
	if vars == nil {
		vars = []string{}
	}
	return TemplateView{Kind: t.Kind, Channel: t.Channel, Lang: t.Lang, Subject: t.Subject, Body: t.Body,
		UpdatedAt: tsPtr(t.UpdatedAt), Variables: vars}
}

// ListTemplates is GET /api/admin/templates: every mail and notice text in
// every language, the admins' edits over the built-in texts.
func (d *Deps) ListTemplates(c *gin.Context) error {
	list, err := d.Templates.List(c.Request.Context(), store(c), actor(c))
	if err != nil {
		return err
	}
	items := make([]TemplateView, len(list))
	for i, t := range list {
		items[i] = templateView(t)
	}
	OK(c, http.StatusOK, gin.H{"items": items}, "")
	return nil
}

type templateRequest struct {
	Subject *string `json:"subject"`
	Body    *string `json:"body"`
}

// PutTemplate is PUT /api/admin/templates/{kind}/{channel}/{lang}.
func (d *Deps) PutTemplate(c *gin.Context) error {
	var req templateRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	t, err := d.Templates.Put(c.Request.Context(), store(c), actor(c), c.Param("kind"), c.Param("channel"), c.Param("lang"), req.Subject, req.Body)
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, templateView(t), "Template saved")
	return nil
}

// ResetTemplate is DELETE /api/admin/templates/{kind}/{channel}/{lang}: the
// built-in text again.
func (d *Deps) ResetTemplate(c *gin.Context) error {
	t, err := d.Templates.Reset(c.Request.Context(), store(c), actor(c), c.Param("kind"), c.Param("channel"), c.Param("lang"))
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, templateView(t), "Built-in text restored")
	return nil
}

type previewRequest struct {
	Data map[string]string `json:"data"`
}

// TemplatePreview is a rendered template.
type TemplatePreview struct {
	Subject string  `json:"subject"`
	Body    string  `json:"body"`
	HTML    *string `json:"html,omitempty"`
}

// PreviewTemplate is POST /api/admin/templates/{kind}/{channel}/{lang}/preview.
func (d *Deps) PreviewTemplate(c *gin.Context) error {
	var req previewRequest
	if err := Bind(c, &req, true); err != nil {
		return err
	}
	p, err := d.Templates.Preview(c.Request.Context(), store(c), actor(c), c.Param("kind"), c.Param("channel"), c.Param("lang"), req.Data)
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, TemplatePreview{Subject: p.Subject, Body: p.Body, HTML: p.HTML}, "")
	return nil
}
