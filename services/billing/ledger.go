// Package billing is the clinic's credits: an append-only ledger of integer
// credits in a wallet per patient account and per clinic, whose balance
// never goes below zero. With billing on, an upload takes one credit in
// the same transaction as its screening, and a screening that fails for
// good gives it back.
package billing

import (
	"errors"
	"strings"
	"time"

	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/policy"
)

// Ledger applies the credit rules. A nil *Ledger in the screening rules is
// billing off.
type Ledger struct {
	Clock models.Clock
	// Provider makes orders' payment URLs (billing.provider).
	Provider Provider
	// VNPay checks VNPay's IPN and return (nil: VNPay is not configured).
	VNPay *VNPay
	// FrontendURL is where the payer's browser returns to.
	FrontendURL string
}

// ChargeUpload takes one credit for screening id in tx: from the clinic's
// wallet for a staff upload, else from the patient account's own, out of
// the live lot that expires first (see models.CreditLot). None left, or
// only expired ones: models.ErrPaymentRequired (the caller rolls the
// upload back).
func (l *Ledger) ChargeUpload(tx *repositories.Store, staff bool, clinicID, userID, screeningID string) error {
	o := repositories.WalletOwner{UserID: userID}
	if staff {
		o = repositories.WalletOwner{ClinicID: clinicID}
	}
	w, err := tx.Billing.Wallet(o)
	if errors.Is(err, models.ErrNotFound) {
		return models.ErrPaymentRequired
	}
	if err != nil {
		return err
	}
	now := l.Clock.Now()
	ok, err := tx.Billing.Debit(w.ID, 1, now)
	if err != nil {
		return err
	}
	if !ok {
		return models.ErrPaymentRequired
	}
	lot, err := takeLot(tx, w.ID, now)
	if err != nil {
		return err
	}
	_, err = tx.Billing.AddEntry(&models.CreditEntry{WalletID: w.ID, Kind: models.CreditUse, Delta: -1,
		Reason: "screening upload", ScreeningID: &screeningID, ActorID: &userID, CreatedAt: now, LotID: &lot.ID})
	return err
}

// takeLot takes one credit from the wallet's first live lot. The wallet's
// row is already locked by the debit, so only an expiry on another instance
// can empty a lot under it: a few tries, then the credits are taken as gone.
func takeLot(tx *repositories.Store, walletID string, now time.Time) (*models.CreditLot, error) {
	for range 5 {
		lot, err := tx.Billing.NextLot(walletID, now)
		if errors.Is(err, models.ErrNotFound) {
			return nil, models.ErrPaymentRequired // what is left has expired
		}
		if err != nil {
			return nil, err
		}
		ok, err := tx.Billing.TakeFromLot(lot.ID, now)
		if err != nil || ok {
			return lot, err
		}
	}
	return nil, models.ErrPaymentRequired
}

// RefundScreening gives back, in tx, the credit the upload of a screening
// that failed for good took: once (a refund per screening), and nothing
// when its upload took none (billing was off). The credit goes back to the
// lot it was taken from, under that lot's expiry: a refund never extends a
// credit's validity, and a credit whose lot has expired meanwhile expires
// again at the next housekeeping. A use from before lots existed opens a
// lot of its own without expiry.
func RefundScreening(tx *repositories.Store, screeningID string, clock models.Clock) error {
	use, err := tx.Billing.UseOf(screeningID)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := clock.Now()
	e := &models.CreditEntry{WalletID: use.WalletID, Kind: models.CreditRefund, Delta: -use.Delta,
		Reason: "screening failed", ScreeningID: &screeningID, CreatedAt: now, LotID: use.LotID}
	if use.LotID == nil {
		lot := &models.CreditLot{WalletID: use.WalletID, Credits: -use.Delta, Remaining: 0, CreatedAt: now}
		if err := tx.Billing.AddLot(lot); err != nil {
			return err
		}
		e.LotID = &lot.ID
	}
	added, err := tx.Billing.AddEntry(e)
	if err != nil || !added {
		return err
	}
	if err := tx.Billing.ReturnToLot(*e.LotID, -use.Delta); err != nil {
		return err
	}
	return tx.Billing.Credit(use.WalletID, -use.Delta, now)
}

// addCredits credits n to the wallet in tx as an entry e and the lot it
// opens (expiring with e.ExpiresAt, bought by e.OrderID).
func addCredits(tx *repositories.Store, e *models.CreditEntry) error {
	lot := &models.CreditLot{WalletID: e.WalletID, OrderID: e.OrderID, Credits: e.Delta, Remaining: e.Delta,
		ExpiresAt: e.ExpiresAt, CreatedAt: e.CreatedAt}
	if err := tx.Billing.AddLot(lot); err != nil {
		return err
	}
	e.LotID = &lot.ID
	if _, err := tx.Billing.AddEntry(e); err != nil {
		return err
	}
	return tx.Billing.Credit(e.WalletID, e.Delta, e.CreatedAt)
}

// GrantInput is an admin's grant of credits to a patient account or a clinic.
type GrantInput struct {
	UserID   string
	ClinicID string
	Credits  int64
	Reason   string
}

// Grant adds credits to a wallet (ADMIN), audited.
func (l *Ledger) Grant(st *repositories.Store, a models.Actor, in GrantInput) (*models.CreditEntry, error) {
	if err := policy.Can(a, policy.PermAdminConsole); err != nil {
		return nil, err
	}
	details := map[string]string{}
	in.UserID, in.ClinicID, in.Reason = strings.ToLower(strings.TrimSpace(in.UserID)), strings.ToLower(strings.TrimSpace(in.ClinicID)), strings.TrimSpace(in.Reason)
	if (in.UserID == "") == (in.ClinicID == "") {
		details["userId"] = "give exactly one of userId or clinicId"
	}
	if in.Credits < 1 || in.Credits > 1_000_000 {
		details["credits"] = "must be an integer from 1 to 1000000"
	}
	if msg := models.CheckText(in.Reason, 1, 200, false); msg != "" {
		details["reason"] = msg
	}
	if len(details) > 0 {
		return nil, models.Invalid(details)
	}
	var e *models.CreditEntry
	err := st.Tx(func(tx *repositories.Store) error {
		o := repositories.WalletOwner{UserID: in.UserID, ClinicID: in.ClinicID}
		entity, id := models.EntityUser, in.UserID
		if in.ClinicID != "" {
			if _, err := tx.Clinics.ByID(in.ClinicID); err != nil {
				return notFound(err, "clinicId")
			}
			entity, id = models.EntityClinic, in.ClinicID
		} else if _, err := tx.Users.ByID(in.UserID); err != nil {
			return notFound(err, "userId")
		}
		now := l.Clock.Now()
		w, err := tx.Billing.EnsureWallet(o, now)
		if err != nil {
			return err
		}
		e = &models.CreditEntry{WalletID: w.ID, Kind: models.CreditGrant, Delta: in.Credits, Reason: in.Reason, ActorID: &a.UserID, CreatedAt: now}
		if err := addCredits(tx, e); err != nil {
			return err
		}
		return audit.Record(tx, a, models.RoleAdmin, models.AuditCreditsGranted, entity, id, now)
	})
	return e, err
}

// notFound turns an unknown id named in the body into VALIDATION_FAILED on
// its field.
func notFound(err error, field string) error {
	if errors.Is(err, models.ErrNotFound) {
		return models.Invalid(map[string]string{field: "no such " + strings.TrimSuffix(field, "Id")})
	}
	return err
}

// WalletView is a wallet's balance and one page of its entries.
type WalletView struct {
	Balance int64
	Entries repositories.EntryPage
}

// OwnWallet is the patient's own wallet (empty when none yet).
func (l *Ledger) OwnWallet(st *repositories.Store, a models.Actor, page, size int) (WalletView, error) {
	if err := policy.Can(a, policy.PermOwnScreenings); err != nil {
		return WalletView{}, err
	}
	return l.walletOf(st, repositories.WalletOwner{UserID: a.UserID}, page, size)
}

// ClinicWallet is a clinic's wallet, for its CLINIC_ADMIN (and ADMIN);
// other callers get the clinic's 404 or 403.
func (l *Ledger) ClinicWallet(st *repositories.Store, a models.Actor, clinicID string, page, size int) (WalletView, error) {
	if _, err := st.Clinics.ByID(clinicID); err != nil {
		return WalletView{}, err
	}
	if err := policy.CanIn(st, a, clinicID, policy.PermClinicsAdminister); err != nil {
		return WalletView{}, err
	}
	return l.walletOf(st, repositories.WalletOwner{ClinicID: clinicID}, page, size)
}

// walletOf reads a wallet, first expiring its lots past their expiry (as
// housekeeping would), so the balance shown is what an upload can use.
func (l *Ledger) walletOf(st *repositories.Store, o repositories.WalletOwner, page, size int) (WalletView, error) {
	w, err := st.Billing.Wallet(o)
	if errors.Is(err, models.ErrNotFound) {
		return WalletView{Entries: repositories.EntryPage{Items: []models.CreditEntry{}}}, nil
	}
	if err != nil {
		return WalletView{}, err
	}
	if n, _, err := ExpireCredits(st.Context(), st, w.ID, l.Clock.Now(), 100); err != nil {
		return WalletView{}, err
	} else if n > 0 {
		if w, err = st.Billing.WalletByID(w.ID); err != nil {
			return WalletView{}, err
		}
	}
	p, err := st.Billing.Entries(w.ID, page, size)
	return WalletView{Balance: w.Balance, Entries: p}, err
}
