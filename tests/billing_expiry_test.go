package tests

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"aura/app"
	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
	"aura/services/billing"
)

// billingClock puts the server's billing rules on a clock the test moves,
// and returns a housekeeper on the same clock.
func billingClock(t *testing.T, s *testenv.Server) (*testenv.Clock, func() *app.Housekeeper) {
	t.Helper()
	clk := testenv.NewClock()
	s.App.Screenings.Billing.Clock = clk.Now
	return clk, func() *app.Housekeeper {
		h := app.NewHousekeeper(s.App.DB, s.App.Cfg.Housekeeping, testenv.Logger(t))
		h.Clock = clk.Now
		return h
	}
}

// lotOf is the lot an order bought.
func lotOf(t *testing.T, s *testenv.Server, orderID string) models.CreditLot {
	t.Helper()
	var l models.CreditLot
	testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Where("order_id = ?", orderID).Take(&l).Error, "lot of %s", orderID)
	return l
}

// TestBillingCreditExpiry: a use takes the credit that expires first;
// housekeeping writes one expiry entry for what a lot past its expiry has
// left, exactly once even with several at once, never below zero; a
// wallet read expires the same way; a refund goes back to the lot it came
// from and expires with it; expired credits cannot be used.
func TestBillingCreditExpiry(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newBillingWorld(t, e.URI(t), nil)
		s, admin := w.s, w.admin.Token
		clk, housekeeper := billingClock(t, s)
		day := createPackage(t, s, admin, map[string]any{"code": "D1", "name": map[string]any{"vi": "Một ngày", "en": "One day"},
			"audience": "patient", "credits": 3, "priceVnd": 10000, "validDays": 1, "active": true})
		tenDays := createPackage(t, s, admin, map[string]any{"code": "D10", "name": map[string]any{"vi": "Mười ngày", "en": "Ten days"},
			"audience": "patient", "credits": 2, "priceVnd": 20000, "validDays": 10, "active": true})
		// Bought in the opposite order of their expiry: the use still takes
		// from the one-day lot.
		var o10, o1 struct{ Order orderOut }
		s.Do(t, "POST", "/api/orders", map[string]any{"packageId": tenDays}, w.patient.Token).Expect(t, http.StatusCreated, "").Data(t, &o10)
		clk.Add(time.Minute)
		s.Do(t, "POST", "/api/orders", map[string]any{"packageId": day}, w.patient.Token).Expect(t, http.StatusCreated, "").Data(t, &o1)
		w.grant(t, map[string]any{"userId": w.patient.ID, "credits": 1, "reason": "Welcome"})
		var first struct{ ID string }
		w.ownUpload(t, w.patient.Token).Expect(t, http.StatusAccepted, "").Data(t, &first)
		if l1, l10 := lotOf(t, s, o1.Order.ID), lotOf(t, s, o10.Order.ID); l1.Remaining != 2 || l10.Remaining != 2 {
			t.Fatalf("the use took from the wrong lot: one-day %d, ten-day %d", l1.Remaining, l10.Remaining)
		}
		// Before the expiry, housekeeping expires nothing.
		if sw, ran, err := housekeeper().RunOnce(testenv.Ctx(t)); err != nil || !ran || sw.ExpiredCredits != 0 {
			t.Fatalf("before expiry: %+v %v %v", sw, ran, err)
		}
		// Past it, the two left of the one-day lot lapse, once.
		clk.Add(2 * 24 * time.Hour)
		sw, ran, err := housekeeper().RunOnce(testenv.Ctx(t))
		if err != nil || !ran || sw.ExpiredLots != 1 || sw.ExpiredCredits != 2 {
			t.Fatalf("expiry: %+v %v %v", sw, ran, err)
		}
		got := w.wallet(t, "/api/wallet", w.patient.Token)
		if got.Balance != 3 || got.Entries.Items[0].Kind != "expire" || got.Entries.Items[0].Delta != -2 ||
			got.Entries.Items[0].OrderID == nil || *got.Entries.Items[0].OrderID != o1.Order.ID {
			t.Fatalf("after the expiry: %+v", got)
		}
		clk.Add(2 * time.Hour)
		if sw, ran, err := housekeeper().RunOnce(testenv.Ctx(t)); err != nil || !ran || sw.ExpiredCredits != 0 {
			t.Fatalf("expired twice: %+v %v %v", sw, ran, err)
		}
		// The next use takes from the ten-day lot; its screening fails for
		// good and the refund goes back to that lot.
		var bad struct{ ID string }
		w.ownUpload(t, w.patient.Token).Expect(t, http.StatusAccepted, "").Data(t, &bad)
		if l := lotOf(t, s, o10.Order.ID); l.Remaining != 1 {
			t.Fatalf("ten-day lot after a use: %d", l.Remaining)
		}
		var row models.Screening
		testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Where("id = ?", bad.ID).Take(&row).Error, "row")
		_, err = s.App.Blobs.Put(testenv.Ctx(t), row.ImageKey, strings.NewReader("not an image"), row.ImageType)
		testenv.Must(t, err, "spoil image")
		analyse(t, s)
		if l := lotOf(t, s, o10.Order.ID); l.Remaining != 2 {
			t.Fatalf("ten-day lot after the refund: %d", l.Remaining)
		}
		checkLedger(t, s)
		// Past ten days, a wallet read and housekeepers at once: the two
		// credits lapse exactly once.
		clk.Add(10 * 24 * time.Hour)
		st := repositories.New(s.App.DB.WithContext(testenv.Ctx(t)))
		counts := make([]int64, 4)
		errs := testenv.Race(4, func(i int) error {
			if i == 3 {
				w.wallet(t, "/api/wallet", w.patient.Token)
				return nil
			}
			_, n, err := billing.ExpireCredits(context.Background(), st, "", clk.Now(), 10)
			counts[i] = n
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Fatalf("concurrent expiry: %v", err)
			}
		}
		var expiries []models.CreditEntry
		testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Where("kind = ?", models.CreditExpiry).Order("created_at").Find(&expiries).Error, "expiries")
		if len(expiries) != 2 || expiries[1].Delta != -2 {
			t.Fatalf("expiry entries %+v (housekeepers took %v)", expiries, counts)
		}
		got = w.wallet(t, "/api/wallet", w.patient.Token)
		if got.Balance != 1 {
			t.Fatalf("after the second expiry: %+v", got)
		}
		// The grant has no expiry: it is used, then nothing is left.
		w.ownUpload(t, w.patient.Token).Expect(t, http.StatusAccepted, "")
		w.ownUpload(t, w.patient.Token).Expect(t, http.StatusPaymentRequired, "PAYMENT_REQUIRED")
		checkLedger(t, s)
	})
}

// TestBillingExpiredCreditsUnusable: credits past their expiry cannot be
// used even before housekeeping writes their expiry (402), and an expiry
// never takes a balance below zero.
func TestBillingExpiredCreditsUnusable(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newBillingWorld(t, e.URI(t), nil)
		s := w.s
		clk, housekeeper := billingClock(t, s)
		pkg := createPackage(t, s, w.admin.Token, map[string]any{"code": "C2", "name": map[string]any{"vi": "Hai", "en": "Two"},
			"audience": "clinic", "credits": 2, "priceVnd": 10000, "validDays": 1, "active": true})
		s.Do(t, "POST", "/api/orders", map[string]any{"packageId": pkg, "clinicId": w.clinic}, w.ca.Token).Expect(t, http.StatusCreated, "")
		w.staffUpload(t).Expect(t, http.StatusAccepted, "")
		clk.Add(25 * time.Hour)
		w.staffUpload(t).Expect(t, http.StatusPaymentRequired, "PAYMENT_REQUIRED")
		if n := screeningCount(t, s); n != 1 {
			t.Fatalf("screenings %d", n)
		}
		// A balance lower than the lot (an inconsistency) is taken to zero,
		// not below.
		db := s.App.DB.WithContext(testenv.Ctx(t))
		testenv.Must(t, db.Model(&models.Wallet{}).Where("clinic_id = ?", w.clinic).Update("balance", 0).Error, "drain")
		sw, _, err := housekeeper().RunOnce(testenv.Ctx(t))
		testenv.Must(t, err, "housekeeping")
		var wl models.Wallet
		testenv.Must(t, db.Where("clinic_id = ?", w.clinic).Take(&wl).Error, "wallet")
		if wl.Balance != 0 || sw.ExpiredCredits != 0 {
			t.Fatalf("balance %d, expired %+v", wl.Balance, sw)
		}
	})
}

// TestBillingOrdersExpireByHousekeeping: housekeeping expires pending
// orders past their window without anyone listing them, the listing
// applies the same rule, and the return page reads expired at once.
func TestBillingOrdersExpireByHousekeeping(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		w := newBillingWorld(t, e.URI(t), vnpayEnv())
		s := w.s
		clk, housekeeper := billingClock(t, s)
		pkg := createPackage(t, s, w.admin.Token, map[string]any{"code": "P1", "name": map[string]any{"vi": "Một", "en": "One"},
			"audience": "patient", "credits": 1, "priceVnd": 10000, "active": true})
		var a, b struct{ Order orderOut }
		s.Do(t, "POST", "/api/orders", map[string]any{"packageId": pkg}, w.patient.Token).Expect(t, http.StatusCreated, "").Data(t, &a)
		s.Do(t, "POST", "/api/orders", map[string]any{"packageId": pkg}, w.other.Token).Expect(t, http.StatusCreated, "").Data(t, &b)
		status := func(id string) string {
			var o models.Order
			testenv.Must(t, s.App.DB.WithContext(testenv.Ctx(t)).Where("id = ?", id).Take(&o).Error, "order")
			return o.Status
		}
		if sw, _, err := housekeeper().RunOnce(testenv.Ctx(t)); err != nil || sw.ExpiredOrders != 0 || status(a.Order.ID) != "pending" {
			t.Fatalf("within the window: %+v %v", sw, err)
		}
		clk.Add(16 * time.Minute)
		// The return page reads expired before anything wrote it.
		q := vnpIPN(a.Order.ID, 1000000, "24", vnpSecret)
		nc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := nc.Get(s.URL + "/api/payments/vnpay/return?" + q.Encode())
		testenv.Must(t, err, "return")
		res.Body.Close()
		if loc, _ := url.Parse(res.Header.Get("Location")); loc == nil || loc.Query().Get("status") != "expired" {
			t.Fatalf("return after the window: %s", res.Header.Get("Location"))
		}
		clk.Add(time.Hour)
		sw, ran, err := housekeeper().RunOnce(testenv.Ctx(t))
		if err != nil || !ran || sw.ExpiredOrders != 2 || status(a.Order.ID) != "expired" || status(b.Order.ID) != "expired" {
			t.Fatalf("housekeeping: %+v %v %v", sw, ran, err)
		}
		// The lazy path: a new order past its window reads expired when
		// listed, before housekeeping.
		var c struct{ Order orderOut }
		s.Do(t, "POST", "/api/orders", map[string]any{"packageId": pkg}, w.patient.Token).Expect(t, http.StatusCreated, "").Data(t, &c)
		clk.Add(16 * time.Minute)
		var mine struct {
			Items []orderOut
			Total int64
		}
		s.Do(t, "GET", "/api/orders", nil, w.patient.Token).Expect(t, http.StatusOK, "").Data(t, &mine)
		if mine.Total != 2 || mine.Items[0].Status != "expired" || mine.Items[1].Status != "expired" {
			t.Fatalf("listed %+v", mine)
		}
	})
}
