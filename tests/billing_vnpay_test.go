package tests

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
)

const (
	vnpSecret = "VNPAYTESTSECRET0123456789ABCDEF"
	vnpTmn    = "AURA0001"
)

// vnpSign is the test's own VNPay 2.1.0 signer: HMAC-SHA512 over the vnp_
// parameters but the hash, sorted by name, URL-encoded, joined as a query.
func vnpSign(p url.Values, secret string) string {
	var keys []string
	for k := range p {
		if strings.HasPrefix(k, "vnp_") && k != "vnp_SecureHash" && k != "vnp_SecureHashType" && p.Get(k) != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(p.Get(k)))
	}
	m := hmac.New(sha512.New, []byte(secret))
	m.Write([]byte(b.String()))
	return hex.EncodeToString(m.Sum(nil))
}

// vnpIPN is the query VNPay sends for an order: its amount (VND × 100), the
// response code, signed with secret.
func vnpIPN(orderID string, amount int64, code, secret string) url.Values {
	q := url.Values{
		"vnp_TmnCode": {vnpTmn}, "vnp_Amount": {itoa(amount)}, "vnp_BankCode": {"NCB"}, "vnp_BankTranNo": {"VNP14226112"},
		"vnp_CardType": {"ATM"}, "vnp_OrderInfo": {"AURA order " + orderID}, "vnp_PayDate": {"20261207153000"},
		"vnp_ResponseCode": {code}, "vnp_TransactionNo": {"14226112"}, "vnp_TransactionStatus": {code}, "vnp_TxnRef": {orderID},
	}
	q.Set("vnp_SecureHash", vnpSign(q, secret))
	return q
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

type orderOut struct {
	ID, Status, Provider string
	AmountVnd, Credits   int64
	PaidAt               *time.Time
	ProviderRef          *string
	Package              struct{ ID, Code string }
}

func ipn(t *testing.T, s *testenv.Server, q url.Values) string {
	t.Helper()
	var out struct{ RspCode, Message string }
	r := s.Do(t, "GET", "/api/payments/vnpay/ipn?"+q.Encode(), nil, "").Expect(t, http.StatusOK, "")
	testenv.Must(t, json.Unmarshal(r.Body, &out), "ipn answer %s", r.Body)
	return out.RspCode
}

func createPackage(t *testing.T, s *testenv.Server, admin string, body map[string]any) string {
	t.Helper()
	var p struct{ ID string }
	s.Do(t, "POST", "/api/admin/packages", body, admin).Expect(t, http.StatusCreated, "").Data(t, &p)
	return p.ID
}

// vnpayEnv configures billing with VNPay (the test's terminal and secret).
func vnpayEnv() map[string]string {
	return map[string]string{"AURA_BILLING_PROVIDER": "vnpay", "AURA_BILLING_VNPAY_TMN_CODE": vnpTmn,
		"AURA_BILLING_VNPAY_HASH_SECRET": vnpSecret, "AURA_BILLING_VNPAY_RETURN_URL": "https://aura.example/api/payments/vnpay/return",
		"AURA_MAIL_FRONTEND_URL": "https://app.aura.example"}
}

// TestBillingVNPay: packages, an order's signed VNPay URL, and the IPN for
// every case VNPay defines; identical IPNs at once grant once; the return
// redirect; orders, expiry and revenue.
func TestBillingVNPay(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newBillingWorld(t, e.URI(t), vnpayEnv())
		s, admin := w.s, w.admin.Token

		// Packages.
		five := createPackage(t, s, admin, map[string]any{"code": "P5", "name": map[string]any{"vi": "Gói 5 lượt", "en": "5 screenings"},
			"audience": "patient", "credits": 5, "priceVnd": 50000, "validDays": 30, "active": true})
		ten := createPackage(t, s, admin, map[string]any{"code": "C10", "name": map[string]any{"vi": "Gói phòng khám", "en": "Clinic 10"},
			"audience": "clinic", "credits": 10, "priceVnd": 200000})
		for _, bad := range []map[string]any{
			{"code": "P5", "name": map[string]any{"vi": "a", "en": "a"}, "audience": "patient", "credits": 1, "priceVnd": 1000},
			{"code": "X", "name": map[string]any{"vi": "a", "en": "a"}, "audience": "patient", "credits": 1, "priceVnd": 999},
			{"code": "Y", "name": map[string]any{"vi": "a", "en": "a"}, "audience": "everyone", "credits": 0, "priceVnd": 1000},
		} {
			s.Do(t, "POST", "/api/admin/packages", testenv.Invalid(bad), admin).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		}
		s.Do(t, "POST", "/api/admin/packages", map[string]any{"code": "Z", "name": map[string]any{"vi": "a", "en": "a"}, "audience": "patient",
			"credits": 1, "priceVnd": 1000}, w.patient.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		s.Do(t, "PATCH", "/api/admin/packages/"+five, map[string]any{"active": false}, admin).Expect(t, http.StatusOK, "")
		var list []struct{ ID, Code string }
		s.Do(t, "GET", "/api/packages?audience=patient", nil, w.patient.Token).Expect(t, http.StatusOK, "").Data(t, &list)
		if len(list) != 0 {
			t.Fatalf("inactive package listed: %+v", list)
		}
		s.Do(t, "POST", "/api/orders", map[string]any{"packageId": five}, w.patient.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "PATCH", "/api/admin/packages/"+five, map[string]any{"active": true, "validDays": nil}, admin).Expect(t, http.StatusOK, "")
		s.Do(t, "GET", "/api/packages", nil, w.patient.Token).Expect(t, http.StatusOK, "").Data(t, &list)
		if len(list) != 2 || list[0].Code != "P5" {
			t.Fatalf("packages %+v", list)
		}

		// An order and its signed URL.
		var created struct {
			Order      orderOut
			PaymentURL string
		}
		s.Do(t, "POST", "/api/orders", map[string]any{"packageId": five}, w.patient.Token).Expect(t, http.StatusCreated, "").Data(t, &created)
		o := created.Order
		if o.Status != "pending" || o.AmountVnd != 50000 || o.Provider != "vnpay" || o.Package.Code != "P5" {
			t.Fatalf("order %+v", o)
		}
		u, err := url.Parse(created.PaymentURL)
		testenv.Must(t, err, "payment url")
		q := u.Query()
		if u.Host != "sandbox.vnpayment.vn" || q.Get("vnp_Version") != "2.1.0" || q.Get("vnp_Command") != "pay" || q.Get("vnp_TmnCode") != vnpTmn ||
			q.Get("vnp_Amount") != "5000000" || q.Get("vnp_CurrCode") != "VND" || q.Get("vnp_TxnRef") != o.ID || q.Get("vnp_Locale") != "vn" ||
			q.Get("vnp_ReturnUrl") != "https://aura.example/api/payments/vnpay/return" || q.Get("vnp_OrderType") == "" || q.Get("vnp_IpAddr") == "" {
			t.Fatalf("payment url %s", created.PaymentURL)
		}
		if q.Get("vnp_SecureHash") != vnpSign(q, vnpSecret) {
			t.Fatalf("payment url signature %s", created.PaymentURL)
		}
		cd, _ := time.Parse("20060102150405", q.Get("vnp_CreateDate"))
		ed, _ := time.Parse("20060102150405", q.Get("vnp_ExpireDate"))
		if ed.Sub(cd) != 15*time.Minute {
			t.Fatalf("create %s expire %s", q.Get("vnp_CreateDate"), q.Get("vnp_ExpireDate"))
		}
		s.Do(t, "POST", "/api/orders", map[string]any{"packageId": ten}, w.patient.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "POST", "/api/orders", map[string]any{"packageId": ten, "clinicId": w.clinic}, w.doctor.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		var clinicOrder struct{ Order orderOut }
		s.Do(t, "POST", "/api/orders", map[string]any{"packageId": ten, "clinicId": w.clinic}, w.ca.Token).
			Expect(t, http.StatusCreated, "").Data(t, &clinicOrder)

		// The IPN: forged, unknown, tampered.
		if c := ipn(t, s, vnpIPN(o.ID, 5000000, "00", "not-the-secret")); c != "97" {
			t.Fatalf("forged: %s", c)
		}
		tampered := vnpIPN(o.ID, 5000000, "00", vnpSecret)
		tampered.Set("vnp_Amount", "100")
		if c := ipn(t, s, tampered); c != "97" {
			t.Fatalf("tampered amount: %s", c)
		}
		other := vnpIPN(o.ID, 5000000, "00", vnpSecret)
		other.Set("vnp_TxnRef", clinicOrder.Order.ID)
		if c := ipn(t, s, other); c != "97" {
			t.Fatalf("tampered order: %s", c)
		}
		if c := ipn(t, s, vnpIPN("00000000-0000-4000-8000-000000000000", 5000000, "00", vnpSecret)); c != "01" {
			t.Fatalf("unknown order: %s", c)
		}
		if c := ipn(t, s, vnpIPN("not-an-order", 5000000, "00", vnpSecret)); c != "01" {
			t.Fatalf("malformed order: %s", c)
		}
		if c := ipn(t, s, vnpIPN(o.ID, 100, "00", vnpSecret)); c != "04" {
			t.Fatalf("wrong amount: %s", c)
		}
		if c := ipn(t, s, url.Values{}); c != "97" {
			t.Fatalf("empty: %s", c)
		}
		if got := w.wallet(t, "/api/wallet", w.patient.Token); got.Balance != 0 {
			t.Fatalf("credits before a valid IPN: %+v", got)
		}

		// Ten identical IPNs at once grant once.
		good := vnpIPN(o.ID, 5000000, "00", vnpSecret)
		codes := make([]string, 10)
		errs := testenv.Race(10, func(i int) error {
			res, err := s.Client.Get(s.URL + "/api/payments/vnpay/ipn?" + good.Encode())
			if err != nil {
				return err
			}
			defer res.Body.Close()
			var out struct{ RspCode string }
			b, _ := io.ReadAll(res.Body)
			codes[i] = string(b)
			if err := json.Unmarshal(b, &out); err == nil {
				codes[i] = out.RspCode
			}
			return nil
		})
		n := map[string]int{}
		for i, err := range errs {
			testenv.Must(t, err, "ipn %d", i)
			n[codes[i]]++
		}
		if n["00"] != 1 || n["02"] != 9 {
			t.Fatalf("ten IPNs answered %v", n)
		}
		// A retry (VNPay did not get the answer) and a late failure change nothing.
		if c := ipn(t, s, good); c != "02" {
			t.Fatalf("retry: %s", c)
		}
		if c := ipn(t, s, vnpIPN(o.ID, 5000000, "24", vnpSecret)); c != "02" {
			t.Fatalf("late failure: %s", c)
		}
		wal := w.wallet(t, "/api/wallet", w.patient.Token)
		if wal.Balance != 5 || wal.Entries.Total != 1 || wal.Entries.Items[0].Kind != "purchase" || wal.Entries.Items[0].OrderID == nil ||
			*wal.Entries.Items[0].OrderID != o.ID {
			t.Fatalf("wallet after payment %+v", wal)
		}

		// A failed payment: recorded, no credits; a later success is 02.
		co := clinicOrder.Order
		if c := ipn(t, s, vnpIPN(co.ID, 20000000, "24", vnpSecret)); c != "00" {
			t.Fatalf("failed payment: %s", c)
		}
		if c := ipn(t, s, vnpIPN(co.ID, 20000000, "00", vnpSecret)); c != "02" {
			t.Fatalf("success after failure: %s", c)
		}
		if c := w.wallet(t, "/api/clinics/"+w.clinic+"/wallet", w.ca.Token); c.Balance != 0 {
			t.Fatalf("clinic wallet after a failed payment %+v", c)
		}

		// The return redirect.
		nc := testenv.CheckedClient(t, &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }})
		for q, want := range map[string]string{
			good.Encode(): "https://app.aura.example/payments/result?order=" + o.ID + "&status=paid",
			vnpIPN(o.ID, 5000000, "00", "forged").Encode(): "https://app.aura.example/payments/result?order=" + o.ID + "&status=invalid",
		} {
			res, err := nc.Get(s.URL + "/api/payments/vnpay/return?" + q)
			testenv.Must(t, err, "return")
			res.Body.Close()
			if res.StatusCode != http.StatusFound || res.Header.Get("Location") != want {
				t.Fatalf("return: %d %s, want %s", res.StatusCode, res.Header.Get("Location"), want)
			}
		}

		// Orders: the patient's, the clinic's; an unpaid one expires.
		var late struct{ Order orderOut }
		s.Do(t, "POST", "/api/orders", map[string]any{"packageId": five}, w.patient.Token).Expect(t, http.StatusCreated, "").Data(t, &late)
		testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Model(&models.Order{}).Where("id = ?", late.Order.ID).
			Update("expires_at", time.Now().UTC().Add(-time.Minute)).Error, "age the order")
		var mine struct {
			Items []orderOut
			Total int64
		}
		s.Do(t, "GET", "/api/orders", nil, w.patient.Token).Expect(t, http.StatusOK, "").Data(t, &mine)
		if mine.Total != 2 || mine.Items[0].Status != "expired" || mine.Items[1].Status != "paid" || mine.Items[1].PaidAt == nil ||
			mine.Items[1].ProviderRef == nil || *mine.Items[1].ProviderRef != "14226112" {
			t.Fatalf("my orders %+v", mine)
		}
		// A payment VNPay took after the window still buys the credits.
		if c := ipn(t, s, vnpIPN(late.Order.ID, 5000000, "00", vnpSecret)); c != "00" {
			t.Fatalf("late payment: %s", c)
		}
		if got := w.wallet(t, "/api/wallet", w.patient.Token); got.Balance != 10 {
			t.Fatalf("after the late payment %+v", got)
		}
		var theirs struct {
			Items []orderOut
			Total int64
		}
		s.Do(t, "GET", "/api/clinics/"+w.clinic+"/orders", nil, w.ca.Token).Expect(t, http.StatusOK, "").Data(t, &theirs)
		if theirs.Total != 1 || theirs.Items[0].Status != "failed" {
			t.Fatalf("clinic orders %+v", theirs)
		}
		s.Do(t, "GET", "/api/clinics/"+w.clinic+"/orders", nil, w.patient.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")

		var rev struct {
			PaidOrders, RevenueVnd int64
			ByPackage              []struct{ PackageID string }
		}
		s.Do(t, "GET", "/api/admin/revenue", nil, admin).Expect(t, http.StatusOK, "").Data(t, &rev)
		if rev.PaidOrders != 2 || rev.RevenueVnd != 100000 || len(rev.ByPackage) != 1 || rev.ByPackage[0].PackageID != five {
			t.Fatalf("revenue %+v", rev)
		}
		checkLedger(t, s)
	})
}

// TestBillingFakeProvider: the development provider settles an order at once.
func TestBillingFakeProvider(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newBillingWorld(t, e.URI(t), nil)
		pkg := createPackage(t, w.s, w.admin.Token, map[string]any{"code": "P3", "name": map[string]any{"vi": "Ba", "en": "Three"},
			"audience": "patient", "credits": 3, "priceVnd": 30000, "validDays": 7})
		var created struct {
			Order      orderOut
			PaymentURL string
		}
		w.s.Do(t, "POST", "/api/orders", map[string]any{"packageId": pkg}, w.patient.Token).Expect(t, http.StatusCreated, "").Data(t, &created)
		if created.Order.Status != "paid" || created.Order.Provider != "fake" || !strings.Contains(created.PaymentURL, "/payments/result?order="+created.Order.ID) {
			t.Fatalf("fake order %+v", created)
		}
		var out struct {
			Entries struct {
				Items []struct{ ExpiresAt *time.Time }
			}
			Balance int64
		}
		w.s.Do(t, "GET", "/api/wallet", nil, w.patient.Token).Expect(t, http.StatusOK, "").Data(t, &out)
		if out.Balance != 3 || len(out.Entries.Items) != 1 || out.Entries.Items[0].ExpiresAt == nil {
			t.Fatalf("wallet %+v", out)
		}
		w.ownUpload(t, w.patient.Token).Expect(t, http.StatusAccepted, "")
	})
}

// TestBillingLogsIPNsNotTheSecret: every IPN is logged with its order and
// outcome; the hash secret never is, even at debug level.
func TestBillingLogsIPNsNotTheSecret(t *testing.T) {
	t.Parallel()
	cfg := testenv.Config(t, "sqlite://", map[string]string{"AURA_BILLING_ENABLED": "true", "AURA_BILLING_PROVIDER": "vnpay",
		"AURA_BILLING_VNPAY_TMN_CODE": vnpTmn, "AURA_BILLING_VNPAY_HASH_SECRET": vnpSecret, "AURA_LOG_LEVEL": "debug",
		"AURA_BILLING_VNPAY_RETURN_URL": "https://aura.example/api/payments/vnpay/return", "AURA_LOG_FORMAT": "json"})
	s, logs, stop := loggedServer(t, cfg, testenv.CheckedClient(t, &http.Client{Timeout: 30 * time.Second}))
	admin := makeAdmin(t, s, "admin@billing.example")
	patient := signUp(t, s, "mai@patient.example")
	pkg := createPackage(t, s, admin, map[string]any{"code": "P1", "name": map[string]any{"vi": "Một", "en": "One"},
		"audience": "patient", "credits": 1, "priceVnd": 10000})
	var created struct{ Order orderOut }
	s.Do(t, "POST", "/api/orders", map[string]any{"packageId": pkg}, patient.Token).Expect(t, http.StatusCreated, "").Data(t, &created)
	if c := ipn(t, s, vnpIPN(created.Order.ID, 1000000, "00", "forged")); c != "97" {
		t.Fatalf("forged: %s", c)
	}
	if c := ipn(t, s, vnpIPN(created.Order.ID, 1000000, "00", vnpSecret)); c != "00" {
		t.Fatalf("valid: %s", c)
	}
	stop()
	s.App.Close()
	out := logs.String()
	if strings.Contains(out, vnpSecret) {
		t.Errorf("the log holds the hash secret:\n%s", out)
	}
	for _, want := range []string{`"outcome":"invalid signature"`, `"outcome":"recorded paid"`, `"order":"` + created.Order.ID + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}
}
