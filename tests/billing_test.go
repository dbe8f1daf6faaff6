package tests

import (
	"net/http"
	"strings"
	"testing"

	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
)

// billingWorld is a server with billing on: an admin, a clinic with a
// doctor and a CLINIC_ADMIN, a patient enrolled there by its staff, and a
// patient with an account.
type billingWorld struct {
	s                     *testenv.Server
	admin, doctor, ca     person
	patient, other        person
	clinic, clinicPatient string
}

func newBillingWorld(t *testing.T, uri string, env map[string]string) *billingWorld {
	t.Helper()
	vals := map[string]string{"AURA_BILLING_ENABLED": "true", "AURA_BILLING_PROVIDER": "fake"}
	for k, v := range env {
		vals[k] = v
	}
	s := testenv.Start(t, testenv.Config(t, uri, vals))
	w := &billingWorld{s: s}
	w.admin = person{Email: "admin@billing.example", Token: makeAdmin(t, s, "admin@billing.example")}
	w.clinic = createClinic(t, s, w.admin.Token, "Phòng khám Bình An")
	w.doctor = makeDoctor(t, s, w.admin.Token, "doctor@billing.example")
	attach(t, s, w.admin.Token, w.clinic, w.doctor.ID, "BS-100").Expect(t, http.StatusOK, "")
	w.ca = signUp(t, s, "manager@billing.example")
	addMember(t, s, w.clinic, w.ca.ID, "CLINIC_ADMIN")
	w.patient = signUp(t, s, "mai@patient.example")
	w.other = signUp(t, s, "hoa@patient.example")
	var rec struct{ ID string }
	s.Do(t, "POST", "/api/clinics/"+w.clinic+"/patients", map[string]any{"fullName": "Trần Văn Bảo"}, w.doctor.Token).
		Expect(t, http.StatusCreated, "").Data(t, &rec)
	w.clinicPatient = rec.ID
	return w
}

type walletOut struct {
	Balance int64
	Entries struct {
		Items []struct {
			ID, Reason, Kind     string
			Delta                int64
			OrderID, ScreeningID *string
		}
		Total int64
	}
}

func (w *billingWorld) wallet(t *testing.T, path, token string) walletOut {
	t.Helper()
	var out walletOut
	w.s.Do(t, "GET", path, nil, token).Expect(t, http.StatusOK, "").Data(t, &out)
	return out
}

func (w *billingWorld) grant(t *testing.T, body map[string]any) {
	t.Helper()
	w.s.Do(t, "POST", "/api/admin/wallets/grants", body, w.admin.Token).Expect(t, http.StatusCreated, "")
}

// ownUpload is the patient's own upload to the clinic.
func (w *billingWorld) ownUpload(t *testing.T, token string) *testenv.Response {
	t.Helper()
	jpg, _ := fundus(t)
	return upload(t, w.s, token, form{image: jpg, fields: map[string]string{"eye": "left", "clinicId": w.clinic}}, nil)
}

// staffUpload is the doctor's upload for the clinic's patient.
func (w *billingWorld) staffUpload(t *testing.T) *testenv.Response {
	t.Helper()
	jpg, _ := fundus(t)
	return upload(t, w.s, w.doctor.Token, form{image: jpg, fields: map[string]string{"eye": "right", "clinicId": w.clinic, "patientId": w.clinicPatient}}, nil)
}

// screeningCount counts the screening rows (what an upload stored).
func screeningCount(t *testing.T, s *testenv.Server) int64 {
	t.Helper()
	var n int64
	testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Model(&models.Screening{}).Count(&n).Error, "count screenings")
	return n
}

// checkLedger asserts every wallet's balance is the sum of its entries and
// of its lots' remaining credits (each credit sits in one lot), and not
// negative.
func checkLedger(t *testing.T, s *testenv.Server) {
	t.Helper()
	var ws []models.Wallet
	db := s.App.DB.WithContext(testenv.Ctx(t))
	testenv.Must(t, db.Find(&ws).Error, "wallets")
	st := repositories.New(db)
	for _, w := range ws {
		sum, err := st.Billing.SumOf(w.ID)
		testenv.Must(t, err, "sum")
		lots, err := st.Billing.LotSumOf(w.ID)
		testenv.Must(t, err, "lot sum")
		if sum != w.Balance || lots != w.Balance || w.Balance < 0 {
			t.Errorf("wallet %s: balance %d, entries sum %d, lots hold %d", w.ID, w.Balance, sum, lots)
		}
	}
}

// TestBillingOff: with billing off (the default) uploads are free as
// before, the billing endpoints answer 404, but an admin may already seed
// wallets (which nothing charges while billing is off).
func TestBillingOff(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newBillingWorld(t, e.URI(t), map[string]string{"AURA_BILLING_ENABLED": "false"})
		w.ownUpload(t, w.patient.Token).Expect(t, http.StatusAccepted, "")
		w.staffUpload(t).Expect(t, http.StatusAccepted, "")
		w.s.Do(t, "GET", "/api/packages", nil, w.patient.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		w.s.Do(t, "GET", "/api/orders", nil, w.patient.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		w.s.Do(t, "GET", "/api/payments/vnpay/ipn", nil, "").Expect(t, http.StatusNotFound, "NOT_FOUND")
		w.grant(t, map[string]any{"clinicId": w.clinic, "credits": 500, "reason": "Opening balance"})
		w.staffUpload(t).Expect(t, http.StatusAccepted, "")
		if c := w.wallet(t, "/api/clinics/"+w.clinic+"/wallet", w.ca.Token); c.Balance != 500 || c.Entries.Total != 1 {
			t.Fatalf("seeded wallet %+v", c)
		}
		var n int64
		testenv.Must(t, w.s.App.DB.WithContext(testenv.Ctx(t)).Model(&models.CreditEntry{}).Where("kind = ?", "use").Count(&n).Error, "count")
		if n != 0 || screeningCount(t, w.s) != 3 {
			t.Fatalf("use entries %d, screenings %d", n, screeningCount(t, w.s))
		}
	})
}

// TestBillingUploadsTakeCredits: with billing on, a patient's own upload
// takes a credit from their wallet and a staff upload one from the
// clinic's; with none left the upload is 402 PAYMENT_REQUIRED and nothing
// is stored; admins grant credits; who may read which wallet.
func TestBillingUploadsTakeCredits(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newBillingWorld(t, e.URI(t), nil)
		s := w.s
		if got := w.wallet(t, "/api/wallet", w.patient.Token); got.Balance != 0 || len(got.Entries.Items) != 0 {
			t.Fatalf("new wallet %+v", got)
		}
		w.ownUpload(t, w.patient.Token).Expect(t, http.StatusPaymentRequired, "PAYMENT_REQUIRED")
		w.staffUpload(t).Expect(t, http.StatusPaymentRequired, "PAYMENT_REQUIRED")
		if n := screeningCount(t, s); n != 0 {
			t.Fatalf("%d screenings stored without credit", n)
		}

		// Grants: validation, then one to the patient and one to the clinic.
		for _, body := range []map[string]any{
			{"credits": 1, "reason": "r"},
			{"userId": w.patient.ID, "clinicId": w.clinic, "credits": 1, "reason": "r"},
			{"userId": w.patient.ID, "credits": 0, "reason": "r"},
			{"userId": w.patient.ID, "credits": 1, "reason": " "},
			{"userId": "00000000-0000-4000-8000-000000000000", "credits": 1, "reason": "r"},
		} {
			s.Do(t, "POST", "/api/admin/wallets/grants", testenv.Invalid(body), w.admin.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		}
		s.Do(t, "POST", "/api/admin/wallets/grants", map[string]any{"userId": w.patient.ID, "credits": 1, "reason": "r"}, w.patient.Token).
			Expect(t, http.StatusForbidden, "FORBIDDEN")
		var g struct {
			ID, Reason, Kind string
			Delta            int64
		}
		s.Do(t, "POST", "/api/admin/wallets/grants", map[string]any{"userId": w.patient.ID, "credits": 2, "reason": "Welcome credits"}, w.admin.Token).
			Expect(t, http.StatusCreated, "").Data(t, &g)
		if g.Delta != 2 || g.Kind != "grant" || g.Reason != "Welcome credits" {
			t.Fatalf("grant %+v", g)
		}
		w.grant(t, map[string]any{"clinicId": strings.ToUpper(w.clinic), "credits": 1, "reason": "Trial"})

		var sc struct{ ID string }
		w.ownUpload(t, w.patient.Token).Expect(t, http.StatusAccepted, "").Data(t, &sc)
		got := w.wallet(t, "/api/wallet", w.patient.Token)
		if got.Balance != 1 || got.Entries.Total != 2 || got.Entries.Items[0].Kind != "use" || got.Entries.Items[0].Delta != -1 ||
			got.Entries.Items[0].ScreeningID == nil || *got.Entries.Items[0].ScreeningID != sc.ID {
			t.Fatalf("after an upload: %+v", got)
		}
		// The staff upload draws on the clinic, not on the patient.
		w.staffUpload(t).Expect(t, http.StatusAccepted, "")
		w.staffUpload(t).Expect(t, http.StatusPaymentRequired, "PAYMENT_REQUIRED")
		if c := w.wallet(t, "/api/clinics/"+w.clinic+"/wallet", w.ca.Token); c.Balance != 0 || c.Entries.Total != 2 {
			t.Fatalf("clinic wallet %+v", c)
		}
		if c := w.wallet(t, "/api/clinics/"+w.clinic+"/wallet?page=2&pageSize=1", w.admin.Token); c.Balance != 0 || len(c.Entries.Items) != 1 ||
			c.Entries.Items[0].Kind != "grant" {
			t.Fatalf("clinic wallet page 2 %+v", c)
		}
		if p := w.wallet(t, "/api/wallet", w.patient.Token); p.Balance != 1 {
			t.Fatalf("patient wallet after staff uploads %+v", p)
		}
		// Who may read a clinic's wallet.
		s.Do(t, "GET", "/api/clinics/"+w.clinic+"/wallet", nil, w.patient.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "GET", "/api/clinics/"+w.clinic+"/wallet", nil, w.doctor.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "GET", "/api/clinics/00000000-0000-4000-8000-000000000000/wallet", nil, w.admin.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", "/api/wallet?page=0", testenv.Invalid(nil), w.patient.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if n := screeningCount(t, s); n != 2 {
			t.Fatalf("%d screenings, want 2", n)
		}
		checkLedger(t, s)
	})
}

// TestBillingConcurrentUploads: 20 uploads at once with 5 credits: exactly
// 5 are stored, the others are 402 PAYMENT_REQUIRED, the balance is 0.
func TestBillingConcurrentUploads(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		// The in-memory engine has one connection: 20 uploads queue for it
		// on a loaded machine longer than the default query deadline.
		w := newBillingWorld(t, e.URI(t), map[string]string{"AURA_DATABASE_QUERY_TIMEOUT": "60s"})
		w.grant(t, map[string]any{"userId": w.patient.ID, "credits": 5, "reason": "Five"})
		jpg, _ := fundus(t)
		ct, body := form{image: jpg, fields: map[string]string{"eye": "left", "clinicId": w.clinic}}.body()
		statuses := make([]int, 20)
		errs := testenv.Race(20, func(i int) error {
			req, _ := http.NewRequest("POST", w.s.URL+"/api/screenings", strings.NewReader(string(body)))
			req.Header.Set("Authorization", "Bearer "+w.patient.Token)
			req.Header.Set("Content-Type", ct)
			res, err := w.s.Client.Do(req)
			if err != nil {
				return err
			}
			res.Body.Close()
			statuses[i] = res.StatusCode
			return nil
		})
		counts := map[int]int{}
		for i, err := range errs {
			testenv.Must(t, err, "upload %d", i)
			counts[statuses[i]]++
		}
		if counts[http.StatusAccepted] != 5 || counts[http.StatusPaymentRequired] != 15 {
			t.Fatalf("answers %v, want 5×202 and 15×402", counts)
		}
		if n := screeningCount(t, w.s); n != 5 {
			t.Fatalf("%d screenings stored, want 5", n)
		}
		if got := w.wallet(t, "/api/wallet", w.patient.Token); got.Balance != 0 || got.Entries.Total != 6 {
			t.Fatalf("wallet %+v", got)
		}
		checkLedger(t, w.s)
	})
}

// TestBillingRefundOnFailure: a screening whose analysis fails for good
// gives its credit back, once.
func TestBillingRefundOnFailure(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newBillingWorld(t, e.URI(t), nil)
		s := w.s
		w.grant(t, map[string]any{"userId": w.patient.ID, "credits": 2, "reason": "Two"})
		var bad, good struct{ ID string }
		w.ownUpload(t, w.patient.Token).Expect(t, http.StatusAccepted, "").Data(t, &bad)
		w.ownUpload(t, w.patient.Token).Expect(t, http.StatusAccepted, "").Data(t, &good)
		// The stored image of one is spoiled: its analysis fails for good.
		var row models.Screening
		testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Where("id = ?", bad.ID).Take(&row).Error, "row")
		_, err := s.App.Blobs.Put(testenv.Ctx(t), row.ImageKey, strings.NewReader("not an image"), row.ImageType)
		testenv.Must(t, err, "spoil image")
		analyse(t, s)
		if sc := getScreening(t, s, w.patient.Token, bad.ID); sc.Status != "failed" {
			t.Fatalf("spoiled screening %s", sc.Status)
		}
		if sc := getScreening(t, s, w.patient.Token, good.ID); sc.Status == "failed" {
			t.Fatalf("good screening failed")
		}
		got := w.wallet(t, "/api/wallet", w.patient.Token)
		if got.Balance != 1 || got.Entries.Total != 4 || got.Entries.Items[0].Kind != "refund" || got.Entries.Items[0].Delta != 1 ||
			*got.Entries.Items[0].ScreeningID != bad.ID {
			t.Fatalf("after the failure: %+v", got)
		}
		analyse(t, s)
		if again := w.wallet(t, "/api/wallet", w.patient.Token); again.Balance != 1 || again.Entries.Total != 4 {
			t.Fatalf("refunded twice: %+v", again)
		}
		checkLedger(t, s)
	})
}

// TestBillingRefusedUploadTakesNoSlot: an upload refused with 402 (no
// credit) does not count toward limits.upload.
func TestBillingRefusedUploadTakesNoSlot(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newBillingWorld(t, e.URI(t), map[string]string{"AURA_LIMITS_UPLOAD_MAX": "2"})
		for range 3 {
			w.ownUpload(t, w.patient.Token).Expect(t, http.StatusPaymentRequired, "PAYMENT_REQUIRED")
		}
		w.grant(t, map[string]any{"userId": w.patient.ID, "credits": 5, "reason": "Five"})
		w.ownUpload(t, w.patient.Token).Expect(t, http.StatusAccepted, "")
		w.ownUpload(t, w.patient.Token).Expect(t, http.StatusAccepted, "")
		w.ownUpload(t, w.patient.Token).Expect(t, http.StatusTooManyRequests, "RATE_LIMITED")
		if got := w.wallet(t, "/api/wallet", w.patient.Token); got.Balance != 3 {
			t.Fatalf("balance %d", got.Balance)
		}
	})
}
