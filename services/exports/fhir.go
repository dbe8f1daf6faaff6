package exports

import (
	"strings"
	"time"

	"github.com/google/uuid"

	"aura/repositories"
	"aura/services/notifications"
	"aura/services/screenings"
)

// FHIRContentType is the media type of a FHIR export.
const FHIRContentType = "application/fhir+json"

// Code systems of AURA's own codes in a FHIR export.
const (
	SystemMetric      = "https://aura.example/fhir/CodeSystem/metric"
	SystemRiskLevel   = "https://aura.example/fhir/CodeSystem/risk-level"
	SystemPatientCode = "https://aura.example/fhir/NamingSystem/patient-code"
	SystemUCUM        = "http://unitsofmeasure.org"
	SystemSNOMED      = "http://snomed.info/sct"
	SystemObsCategory = "http://terminology.hl7.org/CodeSystem/observation-category"
	SystemMediaType   = "http://terminology.hl7.org/CodeSystem/media-type"
	SystemDiagService = "http://terminology.hl7.org/CodeSystem/v2-0074"
)

// Metric is one measurement of the analysis as FHIR shows it.
type Metric struct {
	Code, Display string
	// Unit is the unit shown; UCUM its UCUM code ("" for a unit UCUM does
	// not have: pixels).
	Unit, UCUM string
	value      func(r *repositories.ScreeningRow) *float64
}

// Metrics are the analysis's measurements, in the order they are exported.
var Metrics = []Metric{
	{"vesselDensity", "Retinal vessel density (share of the field)", "1", "1", func(r *repositories.ScreeningRow) *float64 { return r.Analysis.VesselDensity }},
	{"fractalDimension", "Fractal dimension of the vessel tree", "1", "1", func(r *repositories.ScreeningRow) *float64 { return r.Analysis.FractalDimension }},
	{"tortuosity", "Vessel tortuosity (arc length / chord length)", "1", "1", func(r *repositories.ScreeningRow) *float64 { return r.Analysis.Tortuosity }},
	{"meanVesselWidthPx", "Mean vessel width", "px", "", func(r *repositories.ScreeningRow) *float64 { return r.Analysis.MeanVesselWidthPx }},
	{"crae", "Central retinal arteriolar equivalent (CRAE)", "px", "", func(r *repositories.ScreeningRow) *float64 { return r.Analysis.CRAE }},
	{"crve", "Central retinal venular equivalent (CRVE)", "px", "", func(r *repositories.ScreeningRow) *float64 { return r.Analysis.CRVE }},
	{"avr", "Arteriole-to-venule ratio (CRAE / CRVE)", "1", "1", func(r *repositories.ScreeningRow) *float64 { return r.Analysis.AVR }},
	{"arteryDensity", "Arteriole density (share of the field)", "1", "1", func(r *repositories.ScreeningRow) *float64 { return r.Analysis.ArteryDensity }},
	{"veinDensity", "Venule density (share of the field)", "1", "1", func(r *repositories.ScreeningRow) *float64 { return r.Analysis.VeinDensity }},
}

// eyeSite is the SNOMED CT body site of an eye.
var eyeSite = map[string][2]string{
	"left":  {"8966001", "Left eye structure"},
	"right": {"18944008", "Right eye structure"},
}

type obj = map[string]any

func fhirTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// idFor is the stable id of one resource of a screening's Bundle.
func idFor(screeningID, part string) string {
	return uuid.NewSHA1(uuid.MustParse(screeningID), []byte(part)).String()
}

func ref(id string) obj { return obj{"reference": "urn:uuid:" + id} }

// Bundle is the FHIR R4 Bundle (type collection) of an analysed
// screening: its Patient, one Observation per metric measured and one for
// the analysis's risk level, the photograph and the vessel maps as Media
// (links to AURA's endpoints), and a DiagnosticReport (preliminary once
// analysed, final once reviewed, its conclusion the doctor's) that says
// AURA measures and does not diagnose. lang is the language of the texts.
func Bundle(r *repositories.ScreeningRow, lang string, now time.Time) obj {
	reviewed := r.ReviewedAt != nil
	status := "preliminary"
	if reviewed {
		status = "final"
	}
	disclaimer := notifications.Disclaimer[lang]
	if disclaimer == "" {
		disclaimer = notifications.Disclaimer["en"]
	}
	patientID := r.PatientID
	if _, err := uuid.Parse(patientID); err != nil {
		patientID = idFor(r.ID, "patient")
	}
	subject := ref(patientID)
	subject["display"] = r.PatientCode
	site := eyeSite[r.Eye]
	bodySite := obj{"coding": []obj{{"system": SystemSNOMED, "code": site[0], "display": site[1]}}, "text": r.Eye + " eye"}
	effective := fhirTime(r.CreatedAt)
	analysed := fhirTime(*r.Analysis.CompletedAt)

	var entries []obj
	add := func(id string, res obj) {
		res["id"] = id
		entries = append(entries, obj{"fullUrl": "urn:uuid:" + id, "resource": res})
	}

	// Patient.
	p := obj{"resourceType": "Patient", "identifier": []obj{{"system": SystemPatientCode, "value": r.PatientCode}}}
	if name := strings.TrimSpace(deref(r.PatientName)); name != "" {
		p["name"] = []obj{{"text": name}}
	}
	if r.PatientSex != nil {
		switch *r.PatientSex {
		case "female", "male", "other":
			p["gender"] = *r.PatientSex
		default:
			p["gender"] = "unknown"
		}
	}
	if r.PatientDOB != nil && len(*r.PatientDOB) >= 10 {
		p["birthDate"] = (*r.PatientDOB)[:10]
	}
	add(patientID, p)

	// Observations: the metrics, then the analysis's risk level.
	var results []obj
	corrected := screenings.CorrectedMetrics(r.CorrectedMetricsJSON)
	for _, m := range Metrics {
		v := m.value(r)
		if v == nil {
			continue
		}
		q := obj{"value": *v, "unit": m.Unit}
		if m.UCUM != "" {
			q["system"], q["code"] = SystemUCUM, m.UCUM
		}
		o := obj{"resourceType": "Observation", "status": status,
			"category": []obj{{"coding": []obj{{"system": SystemObsCategory, "code": "imaging", "display": "Imaging"}}}},
			"code":     obj{"coding": []obj{{"system": SystemMetric, "code": m.Code, "display": m.Display}}, "text": m.Display},
			"subject":  subject, "effectiveDateTime": effective, "issued": analysed, "bodySite": bodySite,
			"method":        obj{"text": "Automated measurement by AURA " + deref(r.Analysis.Analyzer) + " " + deref(r.Analysis.AnalyzerVersion)},
			"valueQuantity": q,
			"note":          []obj{{"text": disclaimer}},
		}
		if c, ok := corrected[m.Code]; ok {
			o["note"] = []obj{{"text": disclaimer}, {"text": "Value corrected by the reviewing doctor: " + formatFloat(c)}}
		}
		id := idFor(r.ID, "observation/"+m.Code)
		add(id, o)
		results = append(results, ref(id))
	}
	if r.Analysis.RiskLevel != nil {
		o := obj{"resourceType": "Observation", "status": status,
			"category": []obj{{"coding": []obj{{"system": SystemObsCategory, "code": "imaging", "display": "Imaging"}}}},
			"code":     obj{"coding": []obj{{"system": SystemMetric, "code": "riskLevel", "display": "Risk level rated by AURA's rules"}}, "text": "Risk level (analysis)"},
			"subject":  subject, "effectiveDateTime": effective, "issued": analysed, "bodySite": bodySite,
			"valueCodeableConcept": obj{"coding": []obj{{"system": SystemRiskLevel, "code": *r.Analysis.RiskLevel}}, "text": *r.Analysis.RiskLevel},
			"note":                 []obj{{"text": disclaimer}},
		}
		id := idFor(r.ID, "observation/riskLevel")
		add(id, o)
		results = append(results, ref(id))
	}

	// Media: the photograph and the maps, as links to AURA's endpoints.
	var media []obj
	addMedia := func(part, contentType, url, title string, w, h int) {
		m := obj{"resourceType": "Media", "status": "completed",
			"type":    obj{"coding": []obj{{"system": SystemMediaType, "code": "image", "display": "Image"}}},
			"subject": subject, "createdDateTime": effective, "bodySite": bodySite,
			"content": obj{"contentType": contentType, "url": url, "title": title}}
		if w > 0 && h > 0 {
			m["width"], m["height"] = w, h
		}
		id := idFor(r.ID, "media/"+part)
		add(id, m)
		media = append(media, obj{"comment": title, "link": ref(id)})
	}
	base := "/api/screenings/" + r.ID
	if r.ImageKey != "" {
		addMedia("image", r.ImageType, base+"/image", "Fundus photograph", r.ImageWidth, r.ImageHeight)
	}
	if r.Analysis.VesselKey != nil {
		addMedia("vessels", "image/png", base+"/vessels", "Vessel map", r.ImageWidth, r.ImageHeight)
	}
	if r.Analysis.AVKey != nil {
		addMedia("vessels-av", "image/png", base+"/vessels?kind=av", "Arteriole and venule map", r.ImageWidth, r.ImageHeight)
	}

	// DiagnosticReport.
	dr := obj{"resourceType": "DiagnosticReport", "status": status,
		"identifier": []obj{{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:" + r.ID}},
		"category":   []obj{{"coding": []obj{{"system": SystemDiagService, "code": "OUS", "display": "Outside Lab"}}, "text": "Retinal imaging"}},
		"code":       obj{"text": "Retinal vessel analysis of a fundus photograph"},
		"subject":    subject, "effectiveDateTime": effective, "issued": analysed,
		"performer": []obj{{"display": r.ClinicName}},
	}
	if len(results) > 0 {
		dr["result"] = results
	}
	if len(media) > 0 {
		dr["media"] = media
	}
	conclusion := []string{}
	if reviewed {
		dr["issued"] = fhirTime(*r.ReviewedAt)
		if r.ReviewerName != nil || r.ReviewerEmail != nil {
			name := strings.TrimSpace(deref(r.ReviewerName))
			if name == "" {
				name = deref(r.ReviewerEmail)
			}
			dr["resultsInterpreter"] = []obj{{"display": name}}
		}
		if r.ReviewRiskLevel != nil {
			dr["conclusionCode"] = []obj{{"coding": []obj{{"system": SystemRiskLevel, "code": *r.ReviewRiskLevel}}, "text": *r.ReviewRiskLevel}}
			conclusion = append(conclusion, "Risk level (doctor's review): "+*r.ReviewRiskLevel+".")
		}
		if n := strings.TrimSpace(deref(r.ReviewNotes)); n != "" {
			conclusion = append(conclusion, n)
		}
		if n := strings.TrimSpace(deref(r.Recommendation)); n != "" {
			conclusion = append(conclusion, n)
		}
	} else {
		conclusion = append(conclusion, "Awaiting a doctor's review.")
	}
	if r.Analysis.Gradable != nil && !*r.Analysis.Gradable {
		conclusion = append(conclusion, "The photograph could not be graded.")
	}
	conclusion = append(conclusion, disclaimer+".")
	dr["conclusion"] = strings.Join(conclusion, " ")
	add(idFor(r.ID, "report"), dr)

	return obj{"resourceType": "Bundle", "id": r.ID, "type": "collection", "timestamp": fhirTime(now),
		"meta": obj{"lastUpdated": fhirTime(r.UpdatedAt)}, "entry": entries}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
