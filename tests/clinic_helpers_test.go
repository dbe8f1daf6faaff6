package tests

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"aura/internal/testenv"
	"aura/models"
)

// person is a signed-in account of a clinic test.
type person struct {
	ID, Email, Token string
}

// clinicWorld is two clinics, a doctor in each, a patient of each with a
// screening there, and an admin.
type clinicWorld struct {
	s                  *testenv.Server
	admin              person
	c1, c2             string // clinic ids
	d1, d2             person // doctors of c1, c2
	p1, p2             person // patients with a screening in c1, c2
	lonely             person // a patient with no screening
	screen1, screening string
}

func signUp(t *testing.T, s *testenv.Server, email string) person {
	t.Helper()
	reg := register(t, s, email)
	return person{ID: reg.User.ID, Email: email, Token: reg.AccessToken}
}

// makeDoctor grants DOCTOR to a new account and signs it in again, so its
// token carries the role.
func makeDoctor(t *testing.T, s *testenv.Server, adminTok, email string) person {
	t.Helper()
	p := signUp(t, s, email)
	s.Do(t, "PATCH", "/api/admin/users/"+p.ID, map[string]any{"roles": []string{"DOCTOR"}}, adminTok).Expect(t, http.StatusOK, "")
	p.Token = login(t, s, email, goodPassword).AccessToken
	return p
}

func createClinic(t *testing.T, s *testenv.Server, adminTok, name string) string {
	t.Helper()
	var c struct{ ID string }
	s.Do(t, "POST", "/api/admin/clinics", map[string]any{"name": name}, adminTok).Expect(t, http.StatusCreated, "").Data(t, &c)
	return c.ID
}

func attach(t *testing.T, s *testenv.Server, adminTok, clinicID, userID, license string) *testenv.Response {
	t.Helper()
	return s.Do(t, "PUT", "/api/admin/clinics/"+clinicID+"/doctors/"+userID, map[string]any{"licenseNo": license}, adminTok)
}

// attachInvalid is attach with a license the document refuses.
func attachInvalid(t *testing.T, s *testenv.Server, adminTok, clinicID, userID, license string) *testenv.Response {
	t.Helper()
	return s.Do(t, "PUT", "/api/admin/clinics/"+clinicID+"/doctors/"+userID, testenv.Invalid(map[string]any{"licenseNo": license}), adminTok)
}

// seedScreening writes a screening of patient in clinic straight into the
// database, as an upload would have left it (the image bytes do not matter
// to the rules tested here).
func seedScreening(t *testing.T, s *testenv.Server, patient person, clinicID string) string {
	t.Helper()
	s.Do(t, "GET", "/api/patients/me", nil, patient.Token).Expect(t, http.StatusOK, "")
	now := time.Now().UTC()
	id := uuid.NewString()
	sc := &models.Screening{ID: id, PatientID: patient.ID, ClinicID: clinicID, Status: models.StatusAwaitingReview, Eye: "left",
		ImageKey: "screenings/" + id + "/image.png", ImageType: "image/png", ImageBytes: 1, ImageWidth: 256, ImageHeight: 256,
		ImageSHA256: fmt.Sprintf("%064d", 0), CreatedAt: now, UpdatedAt: now, Lang: "vi"}
	testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Create(sc).Error, "seed screening")
	return id
}

func newClinicWorld(t *testing.T, uri string) *clinicWorld {
	t.Helper()
	s := testenv.Start(t, testenv.Config(t, uri, nil))
	w := &clinicWorld{s: s}
	w.admin = person{Email: "admin@clinic.example", Token: makeAdmin(t, s, "admin@clinic.example")}
	var me struct{ ID string }
	s.Do(t, "GET", "/api/auth/me", nil, w.admin.Token).Expect(t, http.StatusOK, "").Data(t, &me)
	w.admin.ID = me.ID
	w.c1 = createClinic(t, s, w.admin.Token, "Phòng khám An Bình")
	w.c2 = createClinic(t, s, w.admin.Token, "Clinic Two")
	w.d1 = makeDoctor(t, s, w.admin.Token, "doctor.one@clinic.example")
	w.d2 = makeDoctor(t, s, w.admin.Token, "doctor.two@clinic.example")
	attach(t, s, w.admin.Token, w.c1, w.d1.ID, "BS-001").Expect(t, http.StatusOK, "")
	attach(t, s, w.admin.Token, w.c2, w.d2.ID, "BS-002").Expect(t, http.StatusOK, "")
	w.p1 = signUp(t, s, "ngoc@patient.example")
	w.p2 = signUp(t, s, "minh@patient.example")
	w.lonely = signUp(t, s, "solo@patient.example")
	w.screen1 = seedScreening(t, s, w.p1, w.c1)
	w.screening = seedScreening(t, s, w.p2, w.c2)
	return w
}
