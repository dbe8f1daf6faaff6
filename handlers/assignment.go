package handlers

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"aura/models"
	"aura/repositories"
	"aura/services/patients"
	"aura/services/policy"
)

func clinicPatientView(r *repositories.ClinicPatientRow) ClinicPatientView {
	v := ClinicPatientView{PatientView: patientView(&r.Patient), LatestRiskLevel: r.LatestRiskLevel}
	if r.AssignedDoctorID != nil {
		v.AssignedDoctor = &AssignedDoctorView{UserID: *r.AssignedDoctorID, FullName: r.AssignedDoctorName}
	}
	return v
}

type assignRequest struct {
	DoctorID string `json:"doctorId"`
}

// AssignDoctor is PUT /api/clinics/{id}/patients/{patientId}/doctor.
func (d *Deps) AssignDoctor(c *gin.Context) error {
	var req assignRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	a := actor(c)
	if err := policy.Can(a, policy.PermPatientsAssign); err != nil {
		return err
	}
	return d.assign(c, a, req.DoctorID, false)
}

// UnassignDoctor is DELETE /api/clinics/{id}/patients/{patientId}/doctor.
func (d *Deps) UnassignDoctor(c *gin.Context) error {
	a := actor(c)
	if err := policy.Can(a, policy.PermPatientsAssign); err != nil {
		return err
	}
	return d.assign(c, a, "", true)
}

func (d *Deps) assign(c *gin.Context, a models.Actor, doctorID string, unassign bool) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	pid, err := idParam(c, "patientId")
	if err != nil {
		return err
	}
	r, err := d.Patients.Assign(c.Request.Context(), store(c), a, id, strings.ToLower(pid), doctorID, unassign)
	if err != nil {
		return err
	}
	msg := "Doctor assigned"
	if unassign {
		msg = "Doctor unassigned"
	}
	OK(c, http.StatusOK, clinicPatientView(r), msg)
	return nil
}

// DoctorPatients is GET /api/doctors/me/patients?q=&riskLevel=&page=&pageSize=.
func (d *Deps) DoctorPatients(c *gin.Context) error {
	a := actor(c)
	if err := policy.Can(a, policy.PermDoctorsPatients); err != nil {
		return err
	}
	page, size, err := pageQuery(c)
	if err != nil {
		return err
	}
	p, err := d.Patients.OfDoctor(c.Request.Context(), store(c), a, patients.DoctorQuery{Q: c.Query("q"),
		RiskLevel: strings.Join(c.QueryArray("riskLevel"), ","), Page: page, PageSize: size})
	if err != nil {
		return err
	}
	items := make([]ClinicPatientView, len(p.Items))
	for i := range p.Items {
		items[i] = clinicPatientView(&p.Items[i])
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": p.Total, "page": page, "pageSize": size}, "")
	return nil
}
