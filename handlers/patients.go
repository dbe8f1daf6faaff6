package handlers

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"aura/models"
	"aura/services/patients"
	"aura/services/policy"
)

// PatientView is the Patient object of the contract.
type PatientView struct {
	ID string `json:"id"`
	// UserID is the account, null for a record without one.
	UserID         *string         `json:"userId"`
	PatientCode    string          `json:"patientCode"`
	FullName       string          `json:"fullName"`
	DateOfBirth    *string         `json:"dateOfBirth"`
	Sex            *string         `json:"sex"`
	MedicalHistory MedicalHistView `json:"medicalHistory"`
	// ExternalID is the clinic's own number, when read in a clinic's
	// context; null otherwise.
	ExternalID *string         `json:"externalId"`
	Clinics    []ClinicRefView `json:"clinics"`
	// ResearchConsent is the patient's consent to the pseudonymised
	// research export (false until the patient gives it).
	ResearchConsent bool `json:"researchConsent"`
}

// ClinicRefView names a clinic the patient is enrolled in.
type ClinicRefView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// MedicalHistView is the patient's medical history.
type MedicalHistView struct {
	Diabetes          *bool   `json:"diabetes"`
	DiabetesSinceYear *int    `json:"diabetesSinceYear"`
	Hypertension      *bool   `json:"hypertension"`
	Notes             *string `json:"notes"`
}

func patientView(p *models.Patient) PatientView {
	clinics := make([]ClinicRefView, len(p.Clinics))
	for i, c := range p.Clinics {
		clinics[i] = ClinicRefView{ID: c.ID, Name: c.Name}
	}
	return PatientView{ID: p.ID, UserID: p.UserID, PatientCode: p.PatientCode, FullName: p.FullName, DateOfBirth: p.DateOfBirth,
		Sex: p.Sex, MedicalHistory: MedicalHistView{Diabetes: p.Diabetes, DiabetesSinceYear: p.DiabetesSinceYear,
			Hypertension: p.Hypertension, Notes: p.HistoryNotes}, ExternalID: p.ExternalID, Clinics: clinics,
		ResearchConsent: p.ResearchConsent}
}

// PatientMe is GET /api/patients/me.
func (d *Deps) PatientMe(c *gin.Context) error {
	p, err := d.Patients.Me(c.Request.Context(), store(c), actor(c))
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, patientView(p), "")
	return nil
}

type medicalHistoryRequest struct {
	Diabetes          models.Opt[bool]   `json:"diabetes"`
	DiabetesSinceYear models.Opt[int]    `json:"diabetesSinceYear"`
	Hypertension      models.Opt[bool]   `json:"hypertension"`
	Notes             models.Opt[string] `json:"notes"`
}

type patientRequest struct {
	DateOfBirth     models.Opt[string]     `json:"dateOfBirth"`
	Sex             models.Opt[string]     `json:"sex"`
	MedicalHistory  *medicalHistoryRequest `json:"medicalHistory"`
	ResearchConsent models.Opt[bool]       `json:"researchConsent"`
}

// UpdatePatientMe is PATCH /api/patients/me.
func (d *Deps) UpdatePatientMe(c *gin.Context) error {
	var req patientRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	ch := patients.Change{DateOfBirth: req.DateOfBirth, Sex: req.Sex, ResearchConsent: req.ResearchConsent}
	if h := req.MedicalHistory; h != nil {
		ch.MedicalHistory = patients.History{Diabetes: h.Diabetes, DiabetesSinceYear: h.DiabetesSinceYear,
			Hypertension: h.Hypertension, Notes: h.Notes}
	}
	p, err := d.Patients.UpdateMe(c.Request.Context(), store(c), actor(c), ch)
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, patientView(p), "Profile updated")
	return nil
}

// GetPatient is GET /api/patients/{id}: the record id (a user id for a
// record with an account).
func (d *Deps) GetPatient(c *gin.Context) error {
	a := actor(c)
	if err := policy.Can(a, policy.PermPatientsRead); err != nil {
		return err
	}
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	p, err := d.Patients.Get(c.Request.Context(), store(c), a, id)
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, patientView(p), "")
	return nil
}

// ClinicPatientView is a Patient in its clinic's list: with the latest
// risk level there and the assigned doctor.
type ClinicPatientView struct {
	PatientView
	LatestRiskLevel *string             `json:"latestRiskLevel"`
	AssignedDoctor  *AssignedDoctorView `json:"assignedDoctor"`
}

// AssignedDoctorView names the doctor who follows a patient in a clinic.
type AssignedDoctorView struct {
	UserID   string `json:"userId"`
	FullName string `json:"fullName"`
}

type enrolRequest struct {
	FullName    string             `json:"fullName"`
	DateOfBirth models.Opt[string] `json:"dateOfBirth"`
	Sex         models.Opt[string] `json:"sex"`
	ExternalID  *string            `json:"externalId"`
	Email       *string            `json:"email"`
	Phone       *string            `json:"phone"`
}

// EnrolPatient is POST /api/clinics/{id}/patients.
func (d *Deps) EnrolPatient(c *gin.Context) error {
	var req enrolRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	p, err := d.Patients.Enrol(c.Request.Context(), store(c), actor(c), id, patients.Enrolment{FullName: req.FullName,
		DateOfBirth: req.DateOfBirth, Sex: req.Sex, ExternalID: req.ExternalID, Email: req.Email, Phone: req.Phone})
	if err != nil {
		return err
	}
	OK(c, http.StatusCreated, patientView(p), "Patient enrolled")
	return nil
}

// ClinicPatients is GET /api/clinics/{id}/patients?q=&riskLevel=&assignedDoctorId=&page=&pageSize=.
func (d *Deps) ClinicPatients(c *gin.Context) error {
	a := actor(c)
	if err := policy.Can(a, policy.PermPatientsList); err != nil {
		return err
	}
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	page, size, err := pageQuery(c)
	if err != nil {
		return err
	}
	p, err := d.Patients.List(c.Request.Context(), store(c), a, id, patients.ListQuery{Q: c.Query("q"),
		RiskLevel: strings.Join(c.QueryArray("riskLevel"), ","), AssignedDoctorID: c.Query("assignedDoctorId"), Page: page, PageSize: size})
	if err != nil {
		return err
	}
	items := make([]ClinicPatientView, len(p.Items))
	for i := range p.Items {
		r := &p.Items[i]
		items[i] = ClinicPatientView{PatientView: patientView(&r.Patient), LatestRiskLevel: r.LatestRiskLevel}
		if r.AssignedDoctorID != nil {
			items[i].AssignedDoctor = &AssignedDoctorView{UserID: *r.AssignedDoctorID, FullName: r.AssignedDoctorName}
		}
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": p.Total, "totalExact": p.TotalExact, "page": page, "pageSize": size}, "")
	return nil
}
