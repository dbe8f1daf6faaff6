package repositories

import "aura/models"

// Scope is what part of the clinic's data a caller may see, as SQL: every
// screening (All), the screenings of one patient (PatientID: the patient's
// own), and the screenings sent to the clinics a doctor belongs to
// (DoctorID). The parts add up; an empty Scope sees nothing. It is built by
// the visibility policy (services/policy) and applied by the repositories
// inside the query, never by filtering rows in Go.
type Scope struct {
	All       bool
	PatientID string
	DoctorID  string
}

// screenings returns the condition on a screenings row aliased s.
func (sc Scope) screenings(s string) (string, []any) {
	if sc.All {
		return "1 = 1", nil
	}
	var conds []string
	var args []any
	if sc.PatientID != "" {
		conds = append(conds, s+".patient_id = ?")
		args = append(args, sc.PatientID)
	}
	if sc.DoctorID != "" {
		conds = append(conds, s+".clinic_id IN (SELECT cm.clinic_id FROM clinic_members cm WHERE cm.user_id = ? AND cm.role = ?)")
		args = append(args, sc.DoctorID, models.RoleDoctor)
	}
	if len(conds) == 0 {
		return "1 = 0", nil
	}
	if len(conds) == 1 {
		return conds[0], args
	}
	return "(" + conds[0] + " OR " + conds[1] + ")", args
}

// patients returns the condition on a patients row aliased p: the patient
// may be seen when a screening of theirs may be (or they are the caller).
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
			"WHERE s.patient_id = "+p+".user_id AND cm.user_id = ? AND cm.role = ?)")
		args = append(args, sc.DoctorID, models.RoleDoctor)
	}
	if len(conds) == 0 {
		return "1 = 0", nil
	}
	if len(conds) == 1 {
		return conds[0], args
	}
	return "(" + conds[0] + " OR " + conds[1] + ")", args
}
