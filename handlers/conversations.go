package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/services/conversations"
)

// ConversationView is the Conversation object of the API.
type ConversationView struct {
	ID          string                    `json:"id"`
	Clinic      ClinicRefView             `json:"clinic"`
	Patient     ConversationPatientView   `json:"patient"`
	LastMessage *repositories.MessageData `json:"lastMessage"`
	Unread      int64                     `json:"unread"`
	CreatedAt   Timestamp                 `json:"createdAt"`
}

// ConversationPatientView names the patient of a conversation.
type ConversationPatientView struct {
	ID       string `json:"id"`
	FullName string `json:"fullName"`
}

func conversationView(r *repositories.ConversationRow) ConversationView {
	v := ConversationView{ID: r.ID, Clinic: ClinicRefView{ID: r.ClinicID, Name: r.ClinicName},
		Patient: ConversationPatientView{ID: r.PatientID, FullName: r.PatientName}, Unread: r.Unread, CreatedAt: ts(r.CreatedAt)}
	if r.Last != nil {
		m := conversations.MessageData(r.Last)
		v.LastMessage = &m
	}
	return v
}

type openConversationRequest struct {
	ClinicID  string `json:"clinicId"`
	PatientID string `json:"patientId"`
}

// OpenConversation is POST /api/conversations: 201 a new conversation, 200
// the existing one.
func (d *Deps) OpenConversation(c *gin.Context) error {
	var req openConversationRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	row, created, err := d.Conversations.Open(c.Request.Context(), store(c), actor(c), req.ClinicID, req.PatientID)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	OK(c, status, conversationView(row), "")
	return nil
}

// ListConversations is GET /api/conversations?page=&pageSize=.
func (d *Deps) ListConversations(c *gin.Context) error {
	page, size, err := pageQuery(c)
	if err != nil {
		return err
	}
	p, err := d.Conversations.List(c.Request.Context(), store(c), actor(c), page, size)
	if err != nil {
		return err
	}
	items := make([]ConversationView, len(p.Items))
	for i := range p.Items {
		items[i] = conversationView(&p.Items[i])
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": p.Total, "page": page, "pageSize": size}, "")
	return nil
}

// ConversationMessages is GET /api/conversations/{id}/messages?before=&limit=.
func (d *Deps) ConversationMessages(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	details := map[string]string{}
	limit := intQuery(c, "limit", 50, 1, conversations.MaxLimit, details)
	before := c.Query("before")
	if before != "" && !isUUID(before) {
		details["before"] = "must be an id"
	}
	if len(details) > 0 {
		return models.Invalid(details)
	}
	ms, err := d.Conversations.Messages(c.Request.Context(), store(c), actor(c), id, before, limit)
	if err != nil {
		return err
	}
	items := make([]repositories.MessageData, len(ms))
	for i := range ms {
		items[i] = conversations.MessageData(&ms[i])
	}
	OK(c, http.StatusOK, gin.H{"items": items}, "")
	return nil
}

type postMessageRequest struct {
	Body        *string `json:"body"`
	ScreeningID *string `json:"screeningId"`
}

// PostMessage is POST /api/conversations/{id}/messages.
func (d *Deps) PostMessage(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var req postMessageRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	if req.Body == nil {
		return models.Invalid(map[string]string{"body": "is required"})
	}
	m, err := d.Conversations.Post(c.Request.Context(), store(c), actor(c), id, *req.Body, req.ScreeningID)
	if err != nil {
		return err
	}
	OK(c, http.StatusCreated, conversations.MessageData(m), "")
	return nil
}

type readConversationRequest struct {
	UpTo string `json:"upTo"`
}

// ReadConversation is POST /api/conversations/{id}/read.
func (d *Deps) ReadConversation(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var req readConversationRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	n, err := d.Conversations.Read(c.Request.Context(), store(c), actor(c), id, req.UpTo)
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, gin.H{"unread": n}, "")
	return nil
}

func isUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}
