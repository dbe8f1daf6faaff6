package repositories

import (
	"strings"

	"aura/models"
)

// Scope is what part of the clinic's data a caller may see, as SQL: every
// screening (All), the screenings of one patient (PatientID: the patient's
// own account), the screenings sent to the clinics a doctor belongs to
// (DoctorID), and the patient records enrolled in the clinics where
// ReaderID holds one of ReaderRoles (a comma-separated list of the clinic
// roles that may read patient records there; a string, so a Scope stays a
// comparable value). The parts add up; an empty Scope sees nothing. It is
// built by the visibility policy (services/policy) and applied by the
// repositories inside the query, never by filtering rows in Go.
type Scope struct {
	All         bool
	PatientID   string
	DoctorID    string
	ReaderID    string
	ReaderRoles string
}

// screenings returns the condition on a screenings row aliased s.
func (sc Scope) screenings(s string) (string, []any) {
	if sc.All {
		return "1 = 1", nil
	}
	var conds []string
	var args []any
	if sc.PatientID != "" {
		conds = append(conds, s+".patient_id IN (SELECT own.id FROM patients own WHERE own.user_id = ?)")
		args = append(args, sc.PatientID)
	}
	if sc.DoctorID != "" {
		conds = append(conds, s+".clinic_id IN (SELECT cm.clinic_id FROM clinic_members cm WHERE cm.user_id = ? AND cm.role = ?)")
		args = append(args, sc.DoctorID, models.RoleDoctor)
	}
	return or(conds), args
}

func or(conds []string) string {
	switch len(conds) {
	case 0:
		return "1 = 0"
	case 1:
		return conds[0]
	}
	return "(" + strings.Join(conds, " OR ") + ")"
}

// patients returns the condition on a patients row aliased p: the patient
// may be seen when it is the caller's own record, when a screening of
// theirs may be, or when it is enrolled in a clinic where the caller reads
// patient records.
func (sc Scope) patients(p string) (string, []any) {
	if sc.All {
		return "1 = 1", nil
	}
	var conds []string
	var args []any
	if sc.PatientID != "" {
		conds = append(conds, p+".user_id = ?")
		args = append(args, sc.PatientID)
	}
	if sc.DoctorID != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM screenings s JOIN clinic_members cm ON cm.clinic_id = s.clinic_id "+
			"WHERE s.patient_id = "+p+".id AND cm.user_id = ? AND cm.role = ?)")
		args = append(args, sc.DoctorID, models.RoleDoctor)
	}
	if sc.ReaderID != "" && sc.ReaderRoles != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM clinic_patients cp JOIN clinic_members cm ON cm.clinic_id = cp.clinic_id "+
			"WHERE cp.patient_id = "+p+".id AND cm.user_id = ? AND cm.role IN ?)")
		args = append(args, sc.ReaderID, strings.Split(sc.ReaderRoles, ","))
	}
	return or(conds), args
}
