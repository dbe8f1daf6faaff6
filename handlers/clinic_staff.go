package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// StaffView is one membership of a clinic, as GET /api/clinics/{id}/staff
// lists it: licenseNo is the doctor's (DOCTOR rows), else null.
type StaffView struct {
	UserID    string  `json:"userId"`
	FullName  string  `json:"fullName"`
	Email     string  `json:"email"`
	Role      string  `json:"role"`
	LicenseNo *string `json:"licenseNo"`
}

// ClinicStaff is GET /api/clinics/{id}/staff.
func (d *Deps) ClinicStaff(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	list, err := d.Clinics.Staff(c.Request.Context(), store(c), actor(c), id)
	if err != nil {
		return err
	}
	out := make([]StaffView, len(list))
	for i, m := range list {
		out[i] = StaffView{UserID: m.UserID, FullName: m.FullName, Email: m.Email, Role: m.Role, LicenseNo: m.LicenseNo}
	}
	OK(c, http.StatusOK, out, "")
	return nil
}

// RemoveStaff is DELETE /api/clinics/{id}/staff/{userId}?role=: ends the
// person's memberships of the clinic (all of them, or the one role named).
func (d *Deps) RemoveStaff(c *gin.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	userID, err := idParam(c, "userId")
	if err != nil {
		return err
	}
	if err := d.Clinics.RemoveStaff(c.Request.Context(), store(c), actor(c), id, userID, c.Query("role")); err != nil {
		return err
	}
	OK(c, http.StatusOK, gin.H{}, "Staff member removed")
	return nil
}
