package handlers

import (
	"net/http"
	"strings"

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
	if d.Billing == nil {
		return nil, errBillingOff
	}
	return d.Billing, nil
}

func (d *Deps) walletAnswer(c *gin.Context, get func(l *billing.Ledger, page, size int) (billing.WalletView, error)) error {
	l, err := d.ledger()
	if err != nil {
		return err
	}
	details := map[string]string{}
	page := intQuery(c, "page", 1, 1, 1_000_000, details)
	size := intQuery(c, "pageSize", defaultPageSize, 1, maxPageSize, details)
	if len(details) > 0 {
		return models.Invalid(details)
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
	l, err := d.ledger()
	if err != nil {
		return err
	}
	e, err := l.Grant(store(c), actor(c), billing.GrantInput{UserID: models.Deref(req.UserID), ClinicID: models.Deref(req.ClinicID),
		Credits: req.Credits, Reason: req.Reason})
	if err != nil {
		return err
	}
	OK(c, http.StatusCreated, creditEntryView(e), "Credits granted")
	return nil
}
