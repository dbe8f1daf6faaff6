package billing

import (
	"errors"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/policy"
)

// OrderTTL is how long an order may be paid (vnp_ExpireDate).
const OrderTTL = 15 * time.Minute

// PackageInput is an ADMIN's package; nil fields of a PATCH stay.
type PackageInput struct {
	Code      *string
	NameVi    *string
	NameEn    *string
	Audience  *string
	Credits   *int64
	PriceVnd  *int64
	ValidDays **int
	Active    *bool
}

var codeRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// SavePackage creates (id "") or updates a package (ADMIN).
func (l *Ledger) SavePackage(st *repositories.Store, a models.Actor, id string, in PackageInput) (*models.Package, error) {
	if err := policy.Can(a, policy.PermAdminConsole); err != nil {
		return nil, err
	}
	now := l.Clock.Now()
	p := &models.Package{ID: uuid.NewString(), Active: true, CreatedAt: now}
	if id != "" {
		var err error
		if p, err = st.Billing.Package(id); err != nil {
			return nil, err
		}
	}
	details := map[string]string{}
	create := id == ""
	if in.Code != nil || create {
		if c := strings.TrimSpace(deref(in.Code)); !codeRe.MatchString(c) {
			details["code"] = "must be 1 to 64 letters, digits, _ . -"
		} else {
			p.Code = c
		}
	}
	if in.NameVi != nil || create {
		if msg := models.CheckText(strings.TrimSpace(deref(in.NameVi)), 1, 200, false); msg != "" {
			details["name.vi"] = msg
		} else {
			p.NameVi = strings.TrimSpace(*in.NameVi)
		}
	}
	if in.NameEn != nil || create {
		if msg := models.CheckText(strings.TrimSpace(deref(in.NameEn)), 1, 200, false); msg != "" {
			details["name.en"] = msg
		} else {
			p.NameEn = strings.TrimSpace(*in.NameEn)
		}
	}
	if in.Audience != nil || create {
		if a := deref(in.Audience); a != models.AudiencePatient && a != models.AudienceClinic {
			details["audience"] = "must be patient or clinic"
		} else {
			p.Audience = a
		}
	}
	if in.Credits != nil || create {
		if in.Credits == nil || *in.Credits < 1 || *in.Credits > 1_000_000 {
			details["credits"] = "must be an integer from 1 to 1000000"
		} else {
			p.Credits = *in.Credits
		}
	}
	if in.PriceVnd != nil || create {
		if in.PriceVnd == nil || *in.PriceVnd < 1000 || *in.PriceVnd > 10_000_000_000 {
			details["priceVnd"] = "must be an integer from 1000 to 10000000000"
		} else {
			p.PriceVnd = *in.PriceVnd
		}
	}
	if in.ValidDays != nil {
		if v := *in.ValidDays; v != nil && (*v < 1 || *v > 3650) {
			details["validDays"] = "must be null or an integer from 1 to 3650"
		} else {
			p.ValidDays = v
		}
	}
	if in.Active != nil {
		p.Active = *in.Active
	}
	if len(details) > 0 {
		return nil, models.Invalid(details)
	}
	p.UpdatedAt = now
	err := st.Tx(func(tx *repositories.Store) error {
		var err error
		if create {
			err = tx.Billing.CreatePackage(p)
		} else {
			err = tx.Billing.SavePackage(p)
		}
		if errors.Is(err, models.ErrConflict) {
			return models.Invalid(map[string]string{"code": "is taken by another package"})
		}
		if err != nil {
			return err
		}
		return audit.Record(tx, a, models.RoleAdmin, models.AuditPackageSave, models.EntityPackage, p.ID, now)
	})
	return p, err
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

// Packages lists the active packages (of one audience, if given).
func (l *Ledger) Packages(st *repositories.Store, audience string) ([]models.Package, error) {
	if audience != "" && audience != models.AudiencePatient && audience != models.AudienceClinic {
		return nil, models.Invalid(map[string]string{"audience": "must be patient or clinic"})
	}
	return st.Billing.Packages(audience, false)
}

// OrderInput is a purchase: a package, for a clinic or for oneself.
type OrderInput struct {
	PackageID string
	ClinicID  string
	IP        string
	Locale    string
}

// CreateOrder records a pending order and returns it with the URL the
// payer is sent to. A patient buys patient packages for themselves; a
// CLINIC_ADMIN buys clinic packages for their clinic (clinicId). The fake
// provider settles it at once.
func (l *Ledger) CreateOrder(st *repositories.Store, a models.Actor, in OrderInput) (*models.Order, *models.Package, string, error) {
	in.PackageID, in.ClinicID = strings.ToLower(strings.TrimSpace(in.PackageID)), strings.ToLower(strings.TrimSpace(in.ClinicID))
	audience := models.AudiencePatient
	if in.ClinicID != "" {
		audience = models.AudienceClinic
		if _, err := st.Clinics.ByID(in.ClinicID); err != nil {
			return nil, nil, "", err
		}
		if err := policy.CanIn(st, a, in.ClinicID, policy.PermClinicsAdminister); err != nil {
			return nil, nil, "", err
		}
	} else if err := policy.Can(a, policy.PermOwnScreenings); err != nil {
		return nil, nil, "", err
	}
	pkg, err := st.Billing.Package(in.PackageID)
	if errors.Is(err, models.ErrNotFound) || (err == nil && (!pkg.Active || pkg.Audience != audience)) {
		return nil, nil, "", models.Invalid(map[string]string{"packageId": "no active " + audience + " package with this id"})
	}
	if err != nil {
		return nil, nil, "", err
	}
	now := l.Clock.Now()
	o := &models.Order{ID: uuid.NewString(), PackageID: pkg.ID, UserID: a.UserID, AmountVnd: pkg.PriceVnd, Credits: pkg.Credits,
		Status: models.OrderPending, Provider: l.Provider.Name(), CreatedAt: now, ExpiresAt: now.Add(OrderTTL)}
	if in.ClinicID != "" {
		o.ClinicID = &in.ClinicID
	}
	payURL, err := l.Provider.PayURL(o, "AURA "+pkg.Code+" "+o.ID, PayRequest{IP: in.IP, Locale: in.Locale, Now: now})
	if err != nil {
		return nil, nil, "", err
	}
	err = st.Tx(func(tx *repositories.Store) error {
		if err := tx.Billing.CreateOrder(o); err != nil {
			return err
		}
		if l.Provider.Name() == "fake" {
			_, err := l.settle(tx, o, models.OrderPaid, nil, nil, now)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, nil, "", err
	}
	if l.Provider.Name() == "fake" {
		o, err = st.Billing.Order(o.ID)
	}
	return o, pkg, payURL, err
}

// settle moves the order to status once and, when paid, grants its credits
// in the same transaction. False: it was settled already.
func (l *Ledger) settle(tx *repositories.Store, o *models.Order, status string, ref, code *string, now time.Time) (bool, error) {
	from := []string{models.OrderPending}
	var paidAt *time.Time
	if status == models.OrderPaid {
		// A payment VNPay took after the order's window still buys it.
		from, paidAt = append(from, models.OrderExpired), &now
	}
	ok, err := tx.Billing.SettleOrder(o.ID, from, status, ref, code, paidAt)
	if err != nil || !ok || status != models.OrderPaid {
		return ok, err
	}
	owner := repositories.WalletOwner{UserID: o.UserID}
	if o.ClinicID != nil {
		owner = repositories.WalletOwner{ClinicID: *o.ClinicID}
	}
	w, err := tx.Billing.EnsureWallet(owner, now)
	if err != nil {
		return false, err
	}
	pkg, err := tx.Billing.Package(o.PackageID)
	if err != nil {
		return false, err
	}
	e := &models.CreditEntry{WalletID: w.ID, Kind: models.CreditPurchase, Delta: o.Credits, Reason: "package " + pkg.Code,
		OrderID: &o.ID, CreatedAt: now}
	if pkg.ValidDays != nil {
		exp := now.Add(time.Duration(*pkg.ValidDays) * 24 * time.Hour)
		e.ExpiresAt = &exp
	}
	return true, addCredits(tx, e)
}

// Orders pages the caller's own orders (clinicID "") or a clinic's (its
// CLINIC_ADMIN, ADMIN). Orders past their window are expired first.
func (l *Ledger) Orders(st *repositories.Store, a models.Actor, clinicID string, page, size int) (repositories.OrderPage, map[string]models.Package, error) {
	if clinicID != "" {
		if _, err := st.Clinics.ByID(clinicID); err != nil {
			return repositories.OrderPage{}, nil, err
		}
		if err := policy.CanIn(st, a, clinicID, policy.PermClinicsAdminister); err != nil {
			return repositories.OrderPage{}, nil, err
		}
	}
	if _, err := ExpireOrders(st, l.Clock.Now()); err != nil {
		return repositories.OrderPage{}, nil, err
	}
	p, err := st.Billing.Orders(a.UserID, clinicID, page, size)
	if err != nil {
		return p, nil, err
	}
	pkgs, err := l.packagesOf(st, p.Items)
	return p, pkgs, err
}

func (l *Ledger) packagesOf(st *repositories.Store, os []models.Order) (map[string]models.Package, error) {
	all, err := st.Billing.Packages("", true)
	if err != nil {
		return nil, err
	}
	m := make(map[string]models.Package, len(all))
	for _, p := range all {
		m[p.ID] = p
	}
	return m, nil
}

// IPNResult is VNPay's answer to an IPN, and what the log says of it.
type IPNResult struct {
	RspCode, Message string
	OrderID          string
	Outcome          string
}

// VNPay's IPN answers.
var (
	ipnConfirmed = IPNResult{RspCode: "00", Message: "Confirm Success"}
	ipnNoOrder   = IPNResult{RspCode: "01", Message: "Order not found"}
	ipnSettled   = IPNResult{RspCode: "02", Message: "Order already confirmed"}
	ipnAmount    = IPNResult{RspCode: "04", Message: "Invalid amount"}
	ipnSignature = IPNResult{RspCode: "97", Message: "Invalid signature"}
	ipnOther     = IPNResult{RspCode: "99", Message: "Unknown error"}
)

// IPN handles VNPay's server-to-server confirmation: the signature (97),
// the order (01), the amount (04), a settled order (02); else it records
// vnp_ResponseCode and vnp_TransactionStatus 00 as paid (credits granted in
// the same transaction) or anything else as failed, and answers 00. The
// settlement is a conditional UPDATE: of identical IPNs at once exactly one
// records; a retry after a crash finds the order settled (02).
func (l *Ledger) IPN(st *repositories.Store, q url.Values) IPNResult {
	if l.VNPay == nil || !l.VNPay.Verify(q) {
		r := ipnSignature
		r.Outcome = "invalid signature"
		return r
	}
	id := strings.ToLower(q.Get("vnp_TxnRef"))
	if _, err := uuid.Parse(id); err != nil {
		r := ipnNoOrder
		r.OrderID, r.Outcome = id, "unknown order"
		return r
	}
	o, err := st.Billing.Order(id)
	if errors.Is(err, models.ErrNotFound) {
		r := ipnNoOrder
		r.OrderID, r.Outcome = id, "unknown order"
		return r
	}
	if err != nil {
		r := ipnOther
		r.OrderID, r.Outcome = id, "error: "+err.Error()
		return r
	}
	amount, err := strconv.ParseInt(q.Get("vnp_Amount"), 10, 64)
	if err != nil || amount != o.AmountVnd*100 {
		r := ipnAmount
		r.OrderID, r.Outcome = id, "amount "+q.Get("vnp_Amount")+" differs"
		return r
	}
	status := models.OrderFailed
	if q.Get("vnp_ResponseCode") == "00" && q.Get("vnp_TransactionStatus") == "00" {
		status = models.OrderPaid
	}
	if o.Status == models.OrderPaid || o.Status == models.OrderFailed || (o.Status == models.OrderExpired && status != models.OrderPaid) {
		r := ipnSettled
		r.OrderID, r.Outcome = id, "already "+o.Status
		return r
	}
	ref, code := q.Get("vnp_TransactionNo"), q.Get("vnp_ResponseCode")
	var settled bool
	err = st.Tx(func(tx *repositories.Store) error {
		var err error
		settled, err = l.settle(tx, o, status, nilIfEmpty(ref), nilIfEmpty(code), l.Clock.Now())
		return err
	})
	switch {
	case err != nil:
		r := ipnOther
		r.OrderID, r.Outcome = id, "error: "+err.Error()
		return r
	case !settled:
		r := ipnSettled
		r.OrderID, r.Outcome = id, "already settled"
		return r
	}
	r := ipnConfirmed
	r.OrderID, r.Outcome = id, "recorded "+status
	return r
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return &s
}

// Return is where VNPay sends the payer's browser back: the result page of
// the order, with its status as recorded (the IPN settles it; a forged
// return changes nothing and reads "invalid").
func (l *Ledger) Return(st *repositories.Store, q url.Values) string {
	id := strings.ToLower(q.Get("vnp_TxnRef"))
	if l.VNPay == nil || !l.VNPay.Verify(q) {
		return ResultURL(l.FrontendURL, id, "invalid")
	}
	o, err := st.Billing.Order(id)
	if err != nil {
		return ResultURL(l.FrontendURL, id, "invalid")
	}
	return ResultURL(l.FrontendURL, o.ID, statusAt(o, l.Clock.Now()))
}

// RevenueView is what paid orders brought in [from, to).
type RevenueView struct {
	PaidOrders int64
	RevenueVnd int64
	ByPackage  []repositories.Revenue
}

// Revenue sums paid orders (ADMIN).
func (l *Ledger) Revenue(st *repositories.Store, a models.Actor, from, to time.Time) (RevenueView, error) {
	if err := policy.Can(a, policy.PermAdminConsole); err != nil {
		return RevenueView{}, err
	}
	rows, err := st.Billing.RevenueByPackage(from, to)
	v := RevenueView{ByPackage: rows}
	for _, r := range rows {
		v.PaidOrders += r.Orders
		v.RevenueVnd += r.Vnd
	}
	return v, err
}
