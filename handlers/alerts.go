package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"aura/i18n"
	"aura/repositories"
	"aura/services/alerts"
	"aura/services/notifications"
	"aura/services/policy"
	"aura/services/screenings"
)

// AlertPatientView names the patient of an alert.
type AlertPatientView struct {
	ID          string  `json:"id"`
	UserID      *string `json:"userId"`
	PatientCode string  `json:"patientCode"`
	FullName    string  `json:"fullName"`
}

// AlertUserView names who acknowledged or resolved an alert.
type AlertUserView struct {
	UserID   string    `json:"userId"`
	FullName *string   `json:"fullName"`
	At       Timestamp `json:"at"`
}

// AlertView is an Alert of the contract.
type AlertView struct {
	ID             string           `json:"id"`
	ClinicID       string           `json:"clinicId"`
	Patient        AlertPatientView `json:"patient"`
	ScreeningID    string           `json:"screeningId"`
	Kind           string           `json:"kind"`
	Level          string           `json:"level"`
	Status         string           `json:"status"`
	CreatedAt      Timestamp        `json:"createdAt"`
	AcknowledgedBy *AlertUserView   `json:"acknowledgedBy"`
	ResolvedBy     *AlertUserView   `json:"resolvedBy"`
	Note           *string          `json:"note"`
	EscalatedAt    *Timestamp       `json:"escalatedAt"`
}

func alertView(r *repositories.AlertRow) AlertView {
	v := AlertView{ID: r.ID, ClinicID: r.ClinicID, ScreeningID: r.ScreeningID, Kind: r.Kind, Level: r.Level, Status: r.Status,
		CreatedAt: ts(r.CreatedAt), Note: r.Note, EscalatedAt: tsPtr(r.EscalatedAt),
		Patient: AlertPatientView{ID: r.PatientID, UserID: r.PatientUserID, PatientCode: r.PatientCode, FullName: orName(r.PatientName, r.PatientEmail)}}
	if r.AcknowledgedBy != nil && r.AcknowledgedAt != nil {
		v.AcknowledgedBy = &AlertUserView{UserID: *r.AcknowledgedBy, FullName: r.AcknowledgedByName, At: ts(*r.AcknowledgedAt)}
	}
	if r.ResolvedBy != nil && r.ResolvedAt != nil {
		v.ResolvedBy = &AlertUserView{UserID: *r.ResolvedBy, FullName: r.ResolvedByName, At: ts(*r.ResolvedAt)}
	}
	return v
}

// ClinicAlerts is GET /api/clinics/{id}/alerts?status=&page=&pageSize=.
func (d *Deps) ClinicAlerts(c *gin.Context) error {
	if err := policy.Can(actor(c), policy.PermAlertsRead); err != nil {
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
	p, err := d.Alerts.List(c.Request.Context(), store(c), actor(c), id, alerts.Query{Status: c.Query("status"), Page: page, PageSize: size})
	if err != nil {
		return err
	}
	items := make([]AlertView, len(p.Items))
	for i := range p.Items {
		items[i] = alertView(&p.Items[i])
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": p.Total, "page": page, "pageSize": size}, "")
	return nil
}

// AcknowledgeAlert is POST /api/alerts/{id}/acknowledge.
func (d *Deps) AcknowledgeAlert(c *gin.Context) error {
	if err := Bind(c, &struct{}{}, true); err != nil {
		return err
	}
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	r, err := d.Alerts.Acknowledge(c.Request.Context(), store(c), actor(c), id)
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, alertView(r), "Alert acknowledged")
	return nil
}

type resolveAlertRequest struct {
	Note *string `json:"note"`
}

// ResolveAlert is POST /api/alerts/{id}/resolve {"note"}.
func (d *Deps) ResolveAlert(c *gin.Context) error {
	var req resolveAlertRequest
	if err := Bind(c, &req, true); err != nil {
		return err
	}
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	r, err := d.Alerts.Resolve(c.Request.Context(), store(c), actor(c), id, req.Note)
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, alertView(r), "Alert resolved")
	return nil
}

// TrendPointView is one point of a trend.
type TrendPointView struct {
	ScreeningID string    `json:"screeningId"`
	TakenAt     Timestamp `json:"takenAt"`
	Metrics     any       `json:"metrics"`
	RiskLevel   *string   `json:"riskLevel"`
}

// TrendsView is a patient's eye over time.
type TrendsView struct {
	Eye        string           `json:"eye"`
	Points     []TrendPointView `json:"points"`
	Changes    any              `json:"changes"`
	Disclaimer string           `json:"disclaimer"`
}

func trendsView(t screenings.Trends, lang string) TrendsView {
	v := TrendsView{Eye: t.Eye, Points: make([]TrendPointView, len(t.Points)), Changes: t.Changes,
		Disclaimer: notifications.Disclaimer[i18n.Lang(lang)]}
	for i, p := range t.Points {
		v.Points[i] = TrendPointView{ScreeningID: p.ScreeningID, TakenAt: ts(p.TakenAt), Metrics: p.Metrics, RiskLevel: p.RiskLevel}
	}
	return v
}

// PatientTrends is GET /api/patients/{id}/trends?eye=left|right.
func (d *Deps) PatientTrends(c *gin.Context) error {
	if err := policy.Can(actor(c), policy.PermPatientsRead); err != nil {
		return err
	}
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	t, err := d.Screenings.PatientTrends(c.Request.Context(), store(c), actor(c), id, c.Query("eye"))
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, trendsView(t, lang(c)), "")
	return nil
}

// MyTrends is GET /api/patients/me/trends?eye=left|right.
func (d *Deps) MyTrends(c *gin.Context) error {
	t, err := d.Screenings.MyTrends(c.Request.Context(), store(c), actor(c), c.Query("eye"))
	if err != nil {
		return err
	}
	OK(c, http.StatusOK, trendsView(t, lang(c)), "")
	return nil
}
