package handlers

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"aura/models"
	"aura/repositories"
	"aura/services/clinics"
)

// MyClinicView is a Clinic with the roles the caller holds in it.
type MyClinicView struct {
	ClinicView
	MyRoles []string `json:"myRoles"`
}

// ApplicantView is who applied for a clinic, as the admins see it.
type ApplicantView struct {
	UserID   string `json:"userId"`
	Email    string `json:"email"`
	FullName string `json:"fullName"`
}

// AdminClinicView is a Clinic as the admins review it: with the
// applicant's note and account (null for a clinic an admin made, or whose
// applicant's account is gone).
type AdminClinicView struct {
	ClinicView
	Note      *string        `json:"note"`
	Applicant *ApplicantView `json:"applicant"`
}

func adminClinicView(c *models.Clinic, applicants map[string]repositories.Recipient) AdminClinicView {
	v := AdminClinicView{ClinicView: clinicView(c), Note: c.Note}
	if c.ApplicantID != nil {
		if r, ok := applicants[*c.ApplicantID]; ok {
			name := models.Deref(r.FullName)
			if name == "" {
				name, _, _ = strings.Cut(r.Email, "@")
			}
			v.Applicant = &ApplicantView{UserID: r.UserID, Email: r.Email, FullName: name}
		}
	}
	return v
}

type registrationRequest struct {
	Name      string  `json:"name"`
	Address   string  `json:"address"`
	Phone     string  `json:"phone"`
	LicenseNo string  `json:"licenseNo"`
	Note      *string `json:"note"`
}

// RegisterClinic is POST /api/clinics/registrations: a clinic application.
func (d *Deps) RegisterClinic(c *gin.Context) error {
	var req registrationRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	cl, err := d.Clinics.Apply(c.Request.Context(), store(c), actor(c), clinics.ApplicationInput{
		Name: req.Name, Address: req.Address, Phone: req.Phone, LicenseNo: req.LicenseNo, Note: req.Note})
	if err != nil {
		return err
	}
	OK(c, http.StatusCreated, clinicView(cl), "Clinic application received; an administrator will review it")
	return nil
}

// MyClinics is GET /api/clinics/mine.
func (d *Deps) MyClinics(c *gin.Context) error {
	list, err := d.Clinics.Mine(c.Request.Context(), store(c), actor(c))
	if err != nil {
		return err
	}
	out := make([]MyClinicView, len(list))
	for i := range list {
		out[i] = MyClinicView{ClinicView: clinicView(&list[i].Clinic), MyRoles: list[i].Roles}
	}
	OK(c, http.StatusOK, out, "")
	return nil
}

// AdminListClinics is GET /api/admin/clinics?status=&q=&page=&pageSize=.
func (d *Deps) AdminListClinics(c *gin.Context) error {
	page, size, err := pageQuery(c)
	if err != nil {
		return err
	}
	p, err := d.Clinics.AdminList(c.Request.Context(), store(c), actor(c),
		clinics.AdminQuery{Status: c.Query("status"), Q: c.Query("q"), Page: page, PageSize: size})
	if err != nil {
		return err
	}
	items := make([]AdminClinicView, len(p.Items))
	for i := range p.Items {
		items[i] = adminClinicView(&p.Items[i], p.Applicants)
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": p.Total, "page": page, "pageSize": size}, "")
	return nil
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

// decision is one admin decision on a clinic: approve, reject, suspend,
// reactivate (POST /api/admin/clinics/{id}/...).
func (d *Deps) decision(withReason bool, message string,
	do func(d *Deps, c *gin.Context, id, reason string) (*models.Clinic, error)) Handler {
	return func(c *gin.Context) error {
		id, err := idParam(c, "id")
		if err != nil {
			return err
		}
		var req reasonRequest
		if withReason {
			err = Bind(c, &req, false)
		} else {
			err = Bind(c, &struct{}{}, true)
		}
		if err != nil {
			return err
		}
		cl, err := do(d, c, id, req.Reason)
		if err != nil {
			return err
		}
		OK(c, http.StatusOK, clinicView(cl), message)
		return nil
	}
}

// ApproveClinic is POST /api/admin/clinics/{id}/approve.
func (d *Deps) ApproveClinic() Handler {
	return d.decision(false, "Clinic approved", func(d *Deps, c *gin.Context, id, _ string) (*models.Clinic, error) {
		return d.Clinics.Approve(c.Request.Context(), store(c), actor(c), id)
	})
}

// RejectClinic is POST /api/admin/clinics/{id}/reject.
func (d *Deps) RejectClinic() Handler {
	return d.decision(true, "Clinic application rejected", func(d *Deps, c *gin.Context, id, reason string) (*models.Clinic, error) {
		return d.Clinics.Reject(c.Request.Context(), store(c), actor(c), id, reason)
	})
}

// SuspendClinic is POST /api/admin/clinics/{id}/suspend.
func (d *Deps) SuspendClinic() Handler {
	return d.decision(true, "Clinic suspended", func(d *Deps, c *gin.Context, id, reason string) (*models.Clinic, error) {
		return d.Clinics.Suspend(c.Request.Context(), store(c), actor(c), id, reason)
	})
}

// ReactivateClinic is POST /api/admin/clinics/{id}/reactivate.
func (d *Deps) ReactivateClinic() Handler {
	return d.decision(false, "Clinic reactivated", func(d *Deps, c *gin.Context, id, _ string) (*models.Clinic, error) {
		return d.Clinics.Reactivate(c.Request.Context(), store(c), actor(c), id)
	})
}
