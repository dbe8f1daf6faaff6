package models

import (
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Sexes a patient profile may record.
var Sexes = []string{"female", "male", "other"}

// Patient is the record of a person AURA screens. A record may belong to an
// account (UserID set: a PATIENT who signs in; the record is made on first
// use and its ID equals the account's id, so a user id is also the record's
// id), or have no account at all (a person a clinic enrolled; ID is a fresh
// UUID and the name, email and phone are the record's own).
type Patient struct {
	ID string `gorm:"type:varchar(36);primaryKey"`
	// UserID is the account the record belongs to, if any (unique).
	UserID *string `gorm:"type:varchar(36);uniqueIndex:idx_patients_user"`
	// PatientCode is given by AURA: unique, short, readable aloud, random.
	PatientCode string `gorm:"type:varchar(20);not null;uniqueIndex"`
	// FullName, Email and Phone are the record's own, for records without
	// an account (an account holder's name is the account's).
	RecordName  *string `gorm:"column:full_name;type:varchar(255)"`
	RecordEmail *string `gorm:"column:email;type:varchar(255)"`
	RecordPhone *string `gorm:"column:phone;type:varchar(100)"`
	// NameKey is the name the record shows folded by SearchKey, kept current
	// when the record's or the account's name changes: what name search
	// compares with.
	NameKey string `gorm:"type:varchar(1020);not null;default:'';index:idx_patients_name_key"`
	// DateOfBirth is a calendar day, YYYY-MM-DD.
	DateOfBirth       *string `gorm:"type:varchar(10)"`
	Sex               *string `gorm:"type:varchar(10)"`
	Diabetes          *bool   `gorm:"type:boolean"`
	DiabetesSinceYear *int
	Hypertension      *bool   `gorm:"type:boolean"`
	HistoryNotes      *string `gorm:"type:text"`
	// ResearchConsent is the patient's consent to the pseudonymised use
	// of their results for research (the research export); false until
	// the patient gives it.
	ResearchConsent bool `gorm:"not null;default:false"`
	CreatedAt       time.Time
	UpdatedAt       time.Time
	User            *User `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`

	// FullName is the name shown: the account's for a record with one, the
	// record's own otherwise; filled by repositories.
	FullName string `gorm:"-"`
	// ExternalID is the clinic's own record number, filled when the record
	// is read in a clinic's context.
	ExternalID *string `gorm:"-"`
	// Clinics are the clinics the record is enrolled in, filled by
	// repositories that load them.
	Clinics []ClinicRef `gorm:"-"`
}

// ClinicRef names a clinic.
type ClinicRef struct {
	ID   string
	Name string
}

// ClinicPatient enrols a patient record in a clinic. Patients with
// screenings at a clinic are enrolled there too (the migration added them;
// uploads enrol). ExternalID is the clinic's own record number (its folded
// ExternalKey unique within the clinic); AssignedDoctorID the doctor of the
// clinic who follows the patient; LatestRiskLevel the risk level of the
// patient's latest analysed or reviewed screening at the clinic (the
// review's when reviewed), kept in the same transaction as the screening
// so lists filter and page on it in SQL.
type ClinicPatient struct {
	ClinicID         string  `gorm:"type:varchar(36);primaryKey;index:idx_clinic_patients_recent,priority:1;index:idx_clinic_patients_risk,priority:1;uniqueIndex:idx_clinic_patients_external,priority:1;index:idx_clinic_patients_name,priority:1"`
	PatientID        string  `gorm:"type:varchar(36);primaryKey;index:idx_clinic_patients_patient;index:idx_clinic_patients_recent,priority:3;index:idx_clinic_patients_risk,priority:4"`
	ExternalID       *string `gorm:"type:varchar(100)"`
	ExternalKey      *string `gorm:"type:varchar(400);uniqueIndex:idx_clinic_patients_external,priority:2"`
	AssignedDoctorID *string `gorm:"type:varchar(36);index"`
	LatestRiskLevel  *string `gorm:"type:varchar(10);index:idx_clinic_patients_risk,priority:2"`
	// NameKey is the patient's Patient.NameKey, copied so a clinic's name
	// search reads one index (clinic_id, name_key) and not the patients
	// table: whatever changes a record's name key changes it here too
	// (repositories.Patients.RenameAccount).
	NameKey        string    `gorm:"type:varchar(1020);not null;default:'';index:idx_clinic_patients_name,priority:2"`
	CreatedAt      time.Time `gorm:"not null;index:idx_clinic_patients_recent,priority:2;index:idx_clinic_patients_risk,priority:3"`
	Clinic         *Clinic   `gorm:"foreignKey:ClinicID;constraint:OnDelete:CASCADE"`
	Patient        *Patient  `gorm:"foreignKey:PatientID;constraint:OnDelete:CASCADE"`
	AssignedDoctor *User     `gorm:"foreignKey:AssignedDoctorID;constraint:OnDelete:SET NULL"`
}

// searchFold strips the combining marks of a decomposed string.
var searchFold = runes.Remove(runes.In(unicode.Mn))

// SearchKey folds a name (or what is typed to find it) for search: NFKC,
// lower case, Vietnamese (and other) diacritics removed, đ as d, spaces
// collapsed and trimmed. "  Nguyễn  Văn ĐẠT " and "nguyen van dat" fold alike.
func SearchKey(s string) string {
	s = norm.NFKC.String(s)
	s = strings.ToLower(s)
	t := transform.Chain(norm.NFD, searchFold, norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	out = strings.Map(func(r rune) rune {
		switch r {
		case 'đ', 'ð':
			return 'd'
		}
		return r
	}, out)
	return strings.Join(strings.Fields(out), " ")
}

// PatientName is the name a record shows: its account's, else its own,
// else the email's local part.
func PatientName(record, account, email *string) string {
	if account != nil && *account != "" {
		return *account
	}
	if record != nil && *record != "" {
		return *record
	}
	if email != nil {
		if i := strings.IndexByte(*email, '@'); i >= 0 {
			return (*email)[:i]
		}
		return *email
	}
	return ""
}

// LatestRiskSQL is the subquery giving the latest risk level of the
// enrolment row aliased (or named) cp: the level of the patient's newest
// screening at that clinic that has one, the review's when reviewed.
func LatestRiskSQL(cp string) string {
	return "SELECT COALESCE(s.review_risk_level, s.risk_level) FROM screenings s WHERE s.clinic_id = " + cp +
		".clinic_id AND s.patient_id = " + cp + ".patient_id AND COALESCE(s.review_risk_level, s.risk_level) IS NOT NULL " +
		"ORDER BY s.created_at DESC, s.id DESC LIMIT 1"
}
