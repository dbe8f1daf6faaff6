package repositories

// Scope is what part of the clinic's data a caller may see, as SQL: every
// screening (All), the screenings of one patient (PatientID: the patient's
// own account), and the screenings sent to the clinics where StaffID holds a
// membership in one of ScreeningRoles (a DOCTOR's, CLINIC_ADMIN's or
// TECHNICIAN's clinics); the patients of those screenings, and the patient
// records enrolled in those clinics, when the membership's role is one of
// PatientRoles. The parts add up; an empty Scope sees nothing. It is built
// by the visibility policy (services/policy) and applied by the
// repositories inside the query, never by filtering rows in Go.
type Scope struct {
	All            bool
	PatientID      string
	StaffID        string
	ScreeningRoles []string
	PatientRoles   []string
}

// member is the condition "clinic column col is a clinic where userID holds
// one of roles".
func member(col, userID string, roles []string) (string, []any) {
	return col + " IN (SELECT cm.clinic_id FROM clinic_members cm WHERE cm.user_id = ? AND cm.role IN ?)", []any{userID, roles}
}

// or joins conditions; none is "1 = 0" (nothing).
func or(conds []string) string {
	switch len(conds) {
	case 0:
		return "1 = 0"
	case 1:
		return conds[0]
	}
	out := "(" + conds[0]
	for _, c := range conds[1:] {
		out += " OR " + c
	}
	return out + ")"
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
	if sc.StaffID != "" && len(sc.ScreeningRoles) > 0 {
		c, a := member(s+".clinic_id", sc.StaffID, sc.ScreeningRoles)
		conds = append(conds, c)
		args = append(args, a...)
	}
	return or(conds), args
}

// patients returns the condition on a patients row aliased p: the patient
// may be seen when it is the caller's own record, or when a screening of
// theirs was sent to, or the record is enrolled in, a clinic where the
// caller's membership shows patients.
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
	if sc.StaffID != "" && len(sc.PatientRoles) > 0 {
		c, a := member("s.clinic_id", sc.StaffID, sc.PatientRoles)
		conds = append(conds, "EXISTS (SELECT 1 FROM screenings s WHERE s.patient_id = "+p+".id AND "+c+")")
		args = append(args, a...)
		c, a = member("cp.clinic_id", sc.StaffID, sc.PatientRoles)
		conds = append(conds, "EXISTS (SELECT 1 FROM clinic_patients cp WHERE cp.patient_id = "+p+".id AND "+c+")")
		args = append(args, a...)
	}
	return or(conds), args
}
