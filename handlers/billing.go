package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"aura/models"
	"aura/services/billing"
)

// CreditEntryView is one line of a wallet's ledger.
type CreditEntryView struct {
	ID          string     `json:"id"`
	Delta       int64      `json:"delta"`
	Reason      string     `json:"reason"`
	Kind        string     `json:"kind"`
	OrderID     *string    `json:"orderId"`
	ScreeningID *string    `json:"screeningId"`
	CreatedAt   Timestamp  `json:"createdAt"`
	ExpiresAt   *Timestamp `json:"expiresAt"`
}

func creditEntryView(e *models.CreditEntry) CreditEntryView {
	return CreditEntryView{ID: e.ID, Delta: e.Delta, Reason: e.Reason, Kind: e.Kind, OrderID: e.OrderID,
		ScreeningID: e.ScreeningID, CreatedAt: ts(e.CreatedAt), ExpiresAt: tsPtr(e.ExpiresAt)}
}

// errBillingOff answers the billing endpoints while billing is off.
var errBillingOff = models.WithMessage(models.ErrNotFound, "Billing is not enabled on this server")

func (d *Deps) ledger() (*billing.Ledger, error) {
	if d.Billing == nil || d.BillingOff {
		return nil, errBillingOff
	}
	return d.Billing, nil
}

func (d *Deps) walletAnswer(c *gin.Context, get func(l *billing.Ledger, page, size int) (billing.WalletView, error)) error {
	l := d.Billing
	page, size, err := pageQuery(c)
	if err != nil {
		return err
	}
	w, err := get(l, page, size)
	if err != nil {
		return err
	}
	items := make([]CreditEntryView, len(w.Entries.Items))
	for i := range w.Entries.Items {
		items[i] = creditEntryView(&w.Entries.Items[i])
	}
	OK(c, http.StatusOK, gin.H{"balance": w.Balance,
		"entries": gin.H{"items": items, "total": w.Entries.Total, "page": page, "pageSize": size}}, "")
	return nil
}

// MyWallet is GET /api/wallet: the patient's own credits.
func (d *Deps) MyWallet(c *gin.Context) error {
	return d.walletAnswer(c, func(l *billing.Ledger, page, size int) (billing.WalletView, error) {
		return l.OwnWallet(store(c), actor(c), page, size)
	})
}

// ClinicWallet is GET /api/clinics/{id}/wallet: a clinic's credits.
func (d *Deps) ClinicWallet(c *gin.Context) error {
	return d.walletAnswer(c, func(l *billing.Ledger, page, size int) (billing.WalletView, error) {
		return l.ClinicWallet(store(c), actor(c), strings.ToLower(c.Param("id")), page, size)
	})
}

type grantRequest struct {
	UserID   *string `json:"userId"`
	ClinicID *string `json:"clinicId"`
	Credits  int64   `json:"credits"`
	Reason   string  `json:"reason"`
}

// GrantCredits is POST /api/admin/wallets/grants.
func (d *Deps) GrantCredits(c *gin.Context) error {
	var req grantRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	e, err := d.Billing.Grant(store(c), actor(c), billing.GrantInput{UserID: models.Deref(req.UserID), ClinicID: models.Deref(req.ClinicID),
		Credits: req.Credits, Reason: req.Reason})
	if err != nil {
		return err
	}
	OK(c, http.StatusCreated, creditEntryView(e), "Credits granted")
	return nil
}

// PackageView is a package as the contract shows it.
type PackageView struct {
	ID        string       `json:"id"`
	Code      string       `json:"code"`
	Name      PackageNames `json:"name"`
	Audience  string       `json:"audience"`
	Credits   int64        `json:"credits"`
	PriceVnd  int64        `json:"priceVnd"`
	ValidDays *int         `json:"validDays"`
	Active    bool         `json:"active"`
	CreatedAt Timestamp    `json:"createdAt"`
	UpdatedAt Timestamp    `json:"updatedAt"`
}

// PackageNames is a package's name in each language.
type PackageNames struct {
	Vi string `json:"vi"`
	En string `json:"en"`
}

func packageView(p *models.Package) PackageView {
	return PackageView{ID: p.ID, Code: p.Code, Name: PackageNames{Vi: p.NameVi, En: p.NameEn}, Audience: p.Audience, Credits: p.Credits,
		PriceVnd: p.PriceVnd, ValidDays: p.ValidDays, Active: p.Active, CreatedAt: ts(p.CreatedAt), UpdatedAt: ts(p.UpdatedAt)}
}

// OrderView is an order as the contract shows it.
type OrderView struct {
	ID          string      `json:"id"`
	Package     PackageView `json:"package"`
	ClinicID    *string     `json:"clinicId"`
	AmountVnd   int64       `json:"amountVnd"`
	Credits     int64       `json:"credits"`
	Status      string      `json:"status"`
	CreatedAt   Timestamp   `json:"createdAt"`
	ExpiresAt   Timestamp   `json:"expiresAt"`
	PaidAt      *Timestamp  `json:"paidAt"`
	Provider    string      `json:"provider"`
	ProviderRef *string     `json:"providerRef"`
}

func orderView(o *models.Order, p *models.Package) OrderView {
	return OrderView{ID: o.ID, Package: packageView(p), ClinicID: o.ClinicID, AmountVnd: o.AmountVnd, Credits: o.Credits, Status: o.Status,
		CreatedAt: ts(o.CreatedAt), ExpiresAt: ts(o.ExpiresAt), PaidAt: tsPtr(o.PaidAt), Provider: o.Provider, ProviderRef: o.ProviderRef}
}

type packageRequest struct {
	Code *string `json:"code"`
	Name *struct {
		Vi *string `json:"vi"`
		En *string `json:"en"`
	} `json:"name"`
	Audience  *string         `json:"audience"`
	Credits   *int64          `json:"credits"`
	PriceVnd  *int64          `json:"priceVnd"`
	ValidDays models.Opt[int] `json:"validDays"`
	Active    *bool           `json:"active"`
}

func (r *packageRequest) input() billing.PackageInput {
	in := billing.PackageInput{Code: r.Code, Audience: r.Audience, Credits: r.Credits, PriceVnd: r.PriceVnd, Active: r.Active}
	if r.Name != nil {
		in.NameVi, in.NameEn = r.Name.Vi, r.Name.En
	}
	if r.ValidDays.Set {
		var v *int
		if !r.ValidDays.Null {
			n := r.ValidDays.Value
			v = &n
		}
		in.ValidDays = &v
	}
	return in
}

// CreatePackage is POST /api/admin/packages.
func (d *Deps) CreatePackage(c *gin.Context) error { return d.savePackage(c, "", http.StatusCreated) }

// UpdatePackage is PATCH /api/admin/packages/{id}.
func (d *Deps) UpdatePackage(c *gin.Context) error {
	return d.savePackage(c, strings.ToLower(c.Param("id")), http.StatusOK)
}

func (d *Deps) savePackage(c *gin.Context, id string, status int) error {
	var req packageRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	l, err := d.ledger()
	if err != nil {
		return err
	}
	p, err := l.SavePackage(store(c), actor(c), id, req.input())
	if err != nil {
		return err
	}
	OK(c, status, packageView(p), "")
	return nil
}

// ListPackages is GET /api/packages?audience=.
func (d *Deps) ListPackages(c *gin.Context) error {
	l, err := d.ledger()
	if err != nil {
		return err
	}
	list, err := l.Packages(store(c), c.Query("audience"))
	if err != nil {
		return err
	}
	out := make([]PackageView, len(list))
	for i := range list {
		out[i] = packageView(&list[i])
	}
	OK(c, http.StatusOK, out, "")
	return nil
}

type orderRequest struct {
	PackageID string  `json:"packageId"`
	ClinicID  *string `json:"clinicId"`
}

// CreateOrder is POST /api/orders.
func (d *Deps) CreateOrder(c *gin.Context) error {
	var req orderRequest
	if err := Bind(c, &req, false); err != nil {
		return err
	}
	l, err := d.ledger()
	if err != nil {
		return err
	}
	locale := "vn"
	if strings.HasPrefix(strings.ToLower(c.GetHeader("Accept-Language")), "en") {
		locale = "en"
	}
	o, p, url, err := l.CreateOrder(store(c), actor(c), billing.OrderInput{PackageID: req.PackageID, ClinicID: models.Deref(req.ClinicID),
		IP: c.ClientIP(), Locale: locale})
	if err != nil {
		return err
	}
	OK(c, http.StatusCreated, gin.H{"order": orderView(o, p), "paymentUrl": url}, "")
	return nil
}

// MyOrders is GET /api/orders.
func (d *Deps) MyOrders(c *gin.Context) error { return d.orders(c, "") }

// ClinicOrders is GET /api/clinics/{id}/orders.
func (d *Deps) ClinicOrders(c *gin.Context) error { return d.orders(c, strings.ToLower(c.Param("id"))) }

func (d *Deps) orders(c *gin.Context, clinicID string) error {
	l, err := d.ledger()
	if err != nil {
		return err
	}
	page, size, err := pageQuery(c)
	if err != nil {
		return err
	}
	p, pkgs, err := l.Orders(store(c), actor(c), clinicID, page, size)
	if err != nil {
		return err
	}
	items := make([]OrderView, len(p.Items))
	for i := range p.Items {
		pkg := pkgs[p.Items[i].PackageID]
		items[i] = orderView(&p.Items[i], &pkg)
	}
	OK(c, http.StatusOK, gin.H{"items": items, "total": p.Total, "page": page, "pageSize": size}, "")
	return nil
}

// VNPayIPN is GET /api/payments/vnpay/ipn: VNPay's confirmation, answered
// with VNPay's own JSON (no envelope) and logged with its outcome.
func (d *Deps) VNPayIPN(c *gin.Context) error {
	if d.BillingOff {
		return errBillingOff
	}
	r := d.Billing.IPN(store(c), c.Request.URL.Query())
	logger(c).Info("vnpay ipn", "order", r.OrderID, "rspCode", r.RspCode, "outcome", r.Outcome,
		"responseCode", c.Query("vnp_ResponseCode"), "amount", c.Query("vnp_Amount"))
	c.JSON(http.StatusOK, gin.H{"RspCode": r.RspCode, "Message": r.Message})
	return nil
}

// VNPayReturn is GET /api/payments/vnpay/return: the payer's browser back
// from VNPay, sent on to the frontend's result page.
func (d *Deps) VNPayReturn(c *gin.Context) error {
	if d.BillingOff {
		return errBillingOff
	}
	c.Redirect(http.StatusFound, d.Billing.Return(store(c), c.Request.URL.Query()))
	return nil
}

// Revenue is GET /api/admin/revenue?from&to (RFC 3339 or YYYY-MM-DD; to
// defaults to now, from to 30 days before to).
func (d *Deps) Revenue(c *gin.Context) error {
	l, err := d.ledger()
	if err != nil {
		return err
	}
	details := map[string]string{}
	to := parseWhen(c.Query("to"), time.Now().UTC(), "to", details)
	from := parseWhen(c.Query("from"), to.AddDate(0, 0, -30), "from", details)
	if len(details) == 0 && !from.Before(to) {
		details["from"] = "must be before to"
	}
	if len(details) > 0 {
		return models.Invalid(details)
	}
	v, err := l.Revenue(store(c), actor(c), from, to)
	if err != nil {
		return err
	}
	by := make([]gin.H, len(v.ByPackage))
	for i, r := range v.ByPackage {
		by[i] = gin.H{"packageId": r.PackageID, "paidOrders": r.Orders, "revenueVnd": r.Vnd}
	}
	OK(c, http.StatusOK, gin.H{"paidOrders": v.PaidOrders, "revenueVnd": v.RevenueVnd, "byPackage": by}, "")
	return nil
}

func parseWhen(s string, def time.Time, field string, details map[string]string) time.Time {
	if s == "" {
		return def
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC()
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t
	}
	details[field] = "must be a date (YYYY-MM-DD) or an RFC 3339 time"
	return def
}
