package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"aura/models"
	"aura/services/accounts"
	"aura/services/clinics"
)

// InvitationView is the Invitation object of the contract, with the
// licence number and specialization of a DOCTOR invitation and when it was
// made.
type InvitationView struct {
	ID             string    `json:"id"`
	Email          string    `json:"email"`
	Role           string    `json:"role"`
	Status         string    `json:"status"`
	ExpiresAt      Timestamp `json:"expiresAt"`
	LicenseNo      *string   `json:"licenseNo"`
	Specialization *string   `json:"specialization"`
	CreatedAt      Timestamp `json:"createdAt"`
}

func invitationView(inv *models.Invitation) InvitationView {
	return InvitationView{ID: inv.ID, Email: inv.Email, Role: inv.Role, Status: inv.Status, ExpiresAt: ts(inv.ExpiresAt),
		LicenseNo: inv.LicenseNo, Specialization: inv.Specialization, CreatedAt: ts(inv.CreatedAt)}
}

type invitationRequest struct {
	Email          string  `json:"email"`
	Role           string  `json:"role"`
	LicenseNo      *string `json:"licenseNo"`
	Specialization *string `json:"specialization"`
}

// CreateInvitation is POST /api/clinics/{id}/invitations.
func (d *Deps) CreateInvitation(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var req invitationRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	inv, err := d.Clinics.Invite(c.Request.Context(), store(c), actor(c), id, clinics.InviteInput{
		Email: req.Email, Role: req.Role, LicenseNo: req.LicenseNo, Specialization: req.Specialization})
	if err != nil {
		return err
	}
	OK(c, http.StatusCreated, invitationView(inv), "Invitation sent")
	return nil
}

// ListInvitations is GET /api/clinics/{id}/invitations?status=&page=&pageSize=.
func (d *Deps) ListInvitations(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	page, size, err := pageQuery(c)
	if err != nil {
		return err
	}
	p, err := d.Clinics.Invitations(c.Request.Context(), store(c), actor(c), id,
		clinics.InvitationQuery{Status: c.Query("status"), Page: page, PageSize: size})
	if err != nil {
		return err
	}
	items := make([]InvitationView, len(p.Items))
	for i := range p.Items {
		items[i] = invitationView(&p.Items[i])
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": p.Total, "page": page, "pageSize": size}, "")
	return nil
}

// RevokeInvitation is DELETE /api/clinics/{id}/invitations/{invitationId}.
func (d *Deps) RevokeInvitation(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	invID, err := idParam(c, "invitationId")
	if err != nil {
		return err
	}
	inv, err := d.Clinics.Revoke(c.Request.Context(), store(c), actor(c), id, invID)
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, invitationView(inv), "Invitation revoked")
	return nil
}

type acceptRequest struct {
	Token    string  `json:"token"`
	Password *string `json:"password"`
	FullName *string `json:"fullName"`
}

// AcceptInvitation is POST /api/invitations/accept: anyone with the token;
// a caller who sends a bearer token must present a valid one (else 401),
// and is the account that accepts. The answer is login's.
func (d *Deps) AcceptInvitation(c *gin.Context) error {
	var caller *models.User
	if _, ok := bearerToken(c); ok {
		u, _, err := d.authenticate(c)
		if err != nil {
			return err
		}
		caller = u
	}
	var req acceptRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	sess, err := d.Accounts.AcceptInvitation(c.Request.Context(), store(c),
		accounts.AcceptInput{Token: req.Token, Password: req.Password, FullName: req.FullName}, caller, client(c))
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, sessionView(sess), "Invitation accepted")
	return nil
}

type newUserRequest struct {
	Email    string   `json:"email"`
	FullName string   `json:"fullName"`
	Roles    []string `json:"roles"`
}

// CreateUser is POST /api/admin/users: an account with no password yet,
// whose owner is mailed a link to set one.
func (d *Deps) CreateUser(c *gin.Context) error {
	var req newUserRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	u, err := d.Accounts.CreateUser(c.Request.Context(), store(c), actor(c),
		accounts.NewUserInput{Email: req.Email, FullName: req.FullName, Roles: req.Roles})
	if err != nil {
		return err
	}
	OK(c, http.StatusCreated, userView(u, true), "Account created; its owner was mailed a link to set a password")
	return nil
}

// InvitePatient is POST /api/clinics/{id}/patients/{patientId}/invite.
func (d *Deps) InvitePatient(c *gin.Context) error {
	// The body (none, or {}) is checked first, as on every JSON endpoint.
	if err := Bind(c, &struct{}{}, true); err != nil {
		return err
	}
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	patientID, err := idParam(c, "patientId")
	if err != nil {
		return err
	}
	inv, err := d.Clinics.InvitePatient(c.Request.Context(), store(c), actor(c), id, patientID)
	if err != nil {
		return err
	}
	OK(c, http.StatusCreated, invitationView(inv), "Invitation sent")
	return nil
}
