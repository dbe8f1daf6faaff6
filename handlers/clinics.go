package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"aura/models"
	"aura/services/clinics"
	"aura/services/policy"
)

// ClinicView is the Clinic object of the contract.
type ClinicView struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	Address      *string    `json:"address"`
	Phone        *string    `json:"phone"`
	LicenseNo    *string    `json:"licenseNo"`
	Status       string     `json:"status"`
	StatusReason *string    `json:"statusReason"`
	ApprovedAt   *Timestamp `json:"approvedAt"`
	CreatedAt    Timestamp  `json:"createdAt"`
}

func clinicView(c *models.Clinic) ClinicView {
	return ClinicView{ID: c.ID, Name: c.Name, Address: c.Address, Phone: c.Phone, LicenseNo: c.LicenseNo,
		Status: c.Status, StatusReason: c.StatusReason, ApprovedAt: tsPtr(c.ApprovedAt), CreatedAt: ts(c.CreatedAt)}
}

// DoctorView is the Doctor object of the contract.
type DoctorView struct {
	UserID         string       `json:"userId"`
	FullName       string       `json:"fullName"`
	Email          string       `json:"email"`
	LicenseNo      *string      `json:"licenseNo"`
	Specialization *string      `json:"specialization"`
	Clinics        []ClinicView `json:"clinics"`
}

func doctorView(v *clinics.DoctorView) DoctorView {
	out := DoctorView{UserID: v.Doctor.UserID, FullName: v.FullName, Email: v.Email,
		Specialization: v.Doctor.Specialization, Clinics: make([]ClinicView, len(v.Doctor.Clinics))}
	if v.Doctor.LicenseNo != "" {
		out.LicenseNo = &v.Doctor.LicenseNo
	}
	for i := range v.Doctor.Clinics {
		out.Clinics[i] = clinicView(&v.Doctor.Clinics[i])
	}
	return out
}

// actor is the caller as the clinic's rules see them.
func actor(c *gin.Context) models.Actor {
	u := currentUser(c)
	return models.Actor{UserID: u.ID, Roles: u.RoleNames(), IP: c.ClientIP(), RequestID: RequestID(c)}
}

// idParam reads a path id that must be a UUID; anything else is answered 404
// (a malformed id is as unknown as a missing one).
func idParam(c *gin.Context, name string) (string, error) {
	id := c.Param(name)
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return "", errNotFound
	}
	return id, nil
}

// ListClinics is GET /api/clinics?page=&pageSize=: a page, as every list.
func (d *Deps) ListClinics(c *gin.Context) error {
	page, size, err := pageQuery(c)
	if err != nil {
		return err
	}
	p, err := d.Clinics.List(c.Request.Context(), store(c), page, size)
	if err != nil {
		return err
	}
	items := make([]ClinicView, len(p.Items))
	for i := range p.Items {
		items[i] = clinicView(&p.Items[i])
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": p.Total, "page": page, "pageSize": size}, "")
	return nil
}

type clinicRequest struct {
	Name      *string            `json:"name"`
	Address   models.Opt[string] `json:"address"`
	Phone     models.Opt[string] `json:"phone"`
	LicenseNo models.Opt[string] `json:"licenseNo"`
}

func (r clinicRequest) input() clinics.ClinicInput {
	return clinics.ClinicInput{Name: r.Name, Address: r.Address, Phone: r.Phone, LicenseNo: r.LicenseNo}
}

// CreateClinic is POST /api/admin/clinics.
func (d *Deps) CreateClinic(c *gin.Context) error {
	var req clinicRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	cl, err := d.Clinics.Create(c.Request.Context(), store(c), actor(c), req.input())
	if err != nil {
		return err
	}
	OK(c, http.StatusCreated, clinicView(cl), "Clinic created")
	return nil
}

// UpdateClinic is PATCH /api/admin/clinics/{id}.
func (d *Deps) UpdateClinic(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var req clinicRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	cl, err := d.Clinics.Update(c.Request.Context(), store(c), actor(c), id, req.input())
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, clinicView(cl), "Clinic updated")
	return nil
}

type doctorRequest struct {
	LicenseNo      string  `json:"licenseNo"`
	Specialization *string `json:"specialization"`
}

// AttachDoctor is PUT /api/admin/clinics/{id}/doctors/{userId}.
func (d *Deps) AttachDoctor(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	userID, err := idParam(c, "userId")
	if err != nil {
		return err
	}
	var req doctorRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	v, err := d.Clinics.Attach(c.Request.Context(), store(c), actor(c), id, userID,
		clinics.DoctorInput{LicenseNo: req.LicenseNo, Specialization: req.Specialization})
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, doctorView(v), "Doctor attached")
	return nil
}

// DetachDoctor is DELETE /api/admin/clinics/{id}/doctors/{userId}.
func (d *Deps) DetachDoctor(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	userID, err := idParam(c, "userId")
	if err != nil {
		return err
	}
	if err := d.Clinics.Detach(c.Request.Context(), store(c), actor(c), id, userID); err != nil {
		return err
	}
	OK(c, http.StatusOK, gin.H{}, "Doctor detached")
	return nil
}

// DoctorMe is GET /api/doctors/me.
func (d *Deps) DoctorMe(c *gin.Context) error {
	v, err := d.Clinics.Me(c.Request.Context(), store(c), actor(c))
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, doctorView(v), "")
	return nil
}

// Roles is GET /api/roles: the permission table (policy), every role and
// what it may do.
func (d *Deps) Roles(c *gin.Context) error {
	OK(c, http.StatusOK, policy.Table(), "")
	return nil
}
