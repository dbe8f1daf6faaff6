package handlers

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"aura/services/exports"
	"aura/services/stats"
)

// exportsService is the rules of the exports, on the screenings' clock.
func (d *Deps) exportsService() *exports.Service {
	return &exports.Service{Clock: d.Screenings.Clock}
}

// ScreeningFHIR is GET /api/screenings/{id}/fhir: the screening as a FHIR
// R4 Bundle (application/fhir+json), for whoever may read its results;
// NOT_READY before the analysis. Errors keep the JSON envelope.
func (d *Deps) ScreeningFHIR(c *gin.Context) error {
	row, err := d.exportsService().Screening(c.Request.Context(), store(c), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	l := row.Lang
	if l == "" {
		l = lang(c)
	}
	b, err := json.Marshal(exports.Bundle(row, l, d.Screenings.Clock.Now()))
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Disposition", `attachment; filename="aura-screening-`+row.ID+`.fhir.json"`)
	c.Data(http.StatusOK, exports.FHIRContentType+"; charset=utf-8", b)
	return nil
}

// MyScreeningsCSV is GET /api/patients/me/screenings.csv (PATIENT): every
// screening of the caller's, as CSV.
func (d *Deps) MyScreeningsCSV(c *gin.Context) error {
	walk, err := d.exportsService().Mine(c.Request.Context(), store(c), actor(c))
	if err != nil {
		return err
	}
	d.writeCSV(c, walk, "aura-screenings-"+walk.At.Format("2006-01-02")+".csv")
	return nil
}

// ClinicScreeningsCSV is GET /api/clinics/{id}/screenings.csv?from&to
// (CLINIC_ADMIN of the clinic, ADMIN): the clinic's screenings created in
// the range, as CSV.
func (d *Deps) ClinicScreeningsCSV(c *gin.Context) error {
	walk, err := d.exportsService().Clinic(c.Request.Context(), store(c), actor(c), c.Param("id"),
		exports.RangeQuery{From: c.Query("from"), To: c.Query("to")})
	if err != nil {
		return err
	}
	d.writeCSV(c, walk, "aura-clinic-screenings-"+walk.At.Format("2006-01-02")+".csv")
	return nil
}

// writeCSV streams the export. Once the first byte is out, a failure
// cannot become an error answer: the connection is cut, so the client
// sees a broken download rather than a file that looks whole.
func (d *Deps) writeCSV(c *gin.Context, walk *exports.Walk, filename string) {
	c.Header("Content-Type", exports.CSVContentType)
	c.Header("Content-Disposition", `attachment; filename="`+filename+`"`)
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	w := &deadlineWriter{w: c.Writer, rc: http.NewResponseController(c.Writer), timeout: d.ExportWriteTimeout}
	// The cursor lives as long as the client reads (a stalled client is
	// cut by the write deadline; one that leaves cancels the query), not
	// the per-request query timeout.
	st := store(c).WithContext(c.Request.Context())
	if err := exports.WriteCSV(w, st, walk); err != nil {
		logger(c).Warn("csv export cut short", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// ResearchCSV is GET /api/admin/exports/research.csv?from&to (ADMIN): the
// pseudonymised results of consenting patients, as CSV; 503 without
// privacy.pseudonym_key.
func (d *Deps) ResearchCSV(c *gin.Context) error {
	r, err := stats.ParseRange(statsRange(c), d.Screenings.Clock.Now())
	if err != nil {
		return err
	}
	x, err := d.exportsService().Research(c.Request.Context(), store(c), actor(c), r.From, r.To, d.PseudonymKey)
	if err != nil {
		return err
	}
	c.Header("Content-Type", exports.CSVContentType)
	c.Header("Content-Disposition", `attachment; filename="aura-research-`+x.At.Format("2006-01-02")+`.csv"`)
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	w := &deadlineWriter{w: c.Writer, rc: http.NewResponseController(c.Writer), timeout: d.ExportWriteTimeout}
	st := store(c).WithContext(c.Request.Context())
	if err := exports.WriteResearchCSV(w, st, x); err != nil {
		logger(c).Warn("research export cut short", "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}
