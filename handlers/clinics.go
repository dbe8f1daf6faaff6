package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"aura/models"
	"aura/services/clinics"
)

// ClinicView is the Clinic object of the contract.
type ClinicView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Address   *string   `json:"address"`
	CreatedAt Timestamp `json:"createdAt"`
}

func clinicView(c *models.Clinic) ClinicView {
	return ClinicView{ID: c.ID, Name: c.Name, Address: c.Address, CreatedAt: ts(c.CreatedAt)}
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
func idParam(c *gin.Context, name string) (string, bool) {
	id := c.Param(name)
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		Fail(c, errNotFound)
		return "", false
	}
	return id, true
}

// ListClinics is GET /api/clinics?page=&pageSize=: a page, as every list.
func (d *Deps) ListClinics(c *gin.Context) {
	details := map[string]string{}
	page := intQuery(c, "page", 1, 1, 1_000_000, details)
	size := intQuery(c, "pageSize", defaultPageSize, 1, maxPageSize, details)
	if len(details) > 0 {
		Fail(c, models.Invalid(details))
		return
	}
	p, err := d.Clinics.List(c.Request.Context(), store(c), page, size)
	if err != nil {
		Fail(c, err)
		return
	}
	items := make([]ClinicView, len(p.Items))
	for i := range p.Items {
		items[i] = clinicView(&p.Items[i])
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": p.Total, "page": page, "pageSize": size}, "")
}

type clinicRequest struct {
	Name    *string            `json:"name"`
	Address models.Opt[string] `json:"address"`
}

// CreateClinic is POST /api/admin/clinics.
func (d *Deps) CreateClinic(c *gin.Context) {
	var req clinicRequest
	if !bind(c, &req, false) {
		return
	}
	cl, err := d.Clinics.Create(c.Request.Context(), store(c), actor(c), clinics.ClinicInput{Name: req.Name, Address: req.Address})
	if err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusCreated, clinicView(cl), "Clinic created")
}

// UpdateClinic is PATCH /api/admin/clinics/{id}.
func (d *Deps) UpdateClinic(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	var req clinicRequest
	if !bind(c, &req, false) {
		return
	}
	cl, err := d.Clinics.Update(c.Request.Context(), store(c), actor(c), id, clinics.ClinicInput{Name: req.Name, Address: req.Address})
	if err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, clinicView(cl), "Clinic updated")
}

type doctorRequest struct {
	LicenseNo      string  `json:"licenseNo"`
	Specialization *string `json:"specialization"`
}

// AttachDoctor is PUT /api/admin/clinics/{id}/doctors/{userId}.
func (d *Deps) AttachDoctor(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	userID, ok := idParam(c, "userId")
	if !ok {
		return
	}
	var req doctorRequest
	if !bind(c, &req, false) {
		return
	}
	v, err := d.Clinics.Attach(c.Request.Context(), store(c), actor(c), id, userID,
		clinics.DoctorInput{LicenseNo: req.LicenseNo, Specialization: req.Specialization})
	if err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, doctorView(v), "Doctor attached")
}

// DetachDoctor is DELETE /api/admin/clinics/{id}/doctors/{userId}.
func (d *Deps) DetachDoctor(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	userID, ok := idParam(c, "userId")
	if !ok {
		return
	}
	if err := d.Clinics.Detach(c.Request.Context(), store(c), actor(c), id, userID); err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, gin.H{}, "Doctor detached")
}

// DoctorMe is GET /api/doctors/me.
func (d *Deps) DoctorMe(c *gin.Context) {
	v, err := d.Clinics.Me(c.Request.Context(), store(c), actor(c))
	if err != nil {
		Fail(c, err)
		return
	}
	OK(c, http.StatusOK, doctorView(v), "")
}
