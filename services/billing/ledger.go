// Package billing is the clinic's credits: an append-only ledger of integer
// credits in a wallet per patient account and per clinic, whose balance
// never goes below zero. With billing on, an upload takes one credit in
// the same transaction as its screening, and a screening that fails for
// good gives it back.
package billing

import (
	"errors"
	"strings"

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
// wallet for a staff upload, else from the patient account's own. None
// left: models.ErrPaymentRequired (the caller rolls the upload back).
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
	_, err = tx.Billing.AddEntry(&models.CreditEntry{WalletID: w.ID, Kind: models.CreditUse, Delta: -1,
		Reason: "screening upload", ScreeningID: &screeningID, ActorID: &userID, CreatedAt: now})
	return err
}

// RefundScreening gives back, in tx, the credit the upload of a screening
// that failed for good took: once (a refund per screening), and nothing
// when its upload took none (billing was off).
func RefundScreening(tx *repositories.Store, screeningID string, clock models.Clock) error {
	use, err := tx.Billing.UseOf(screeningID)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := clock.Now()
	added, err := tx.Billing.AddEntry(&models.CreditEntry{WalletID: use.WalletID, Kind: models.CreditRefund, Delta: -use.Delta,
		Reason: "screening failed", ScreeningID: &screeningID, CreatedAt: now})
	if err != nil || !added {
		return err
	}
	return tx.Billing.Credit(use.WalletID, -use.Delta, now)
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
		if _, err := tx.Billing.AddEntry(e); err != nil {
			return err
		}
		if err := tx.Billing.Credit(w.ID, in.Credits, now); err != nil {
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
	return walletOf(st, repositories.WalletOwner{UserID: a.UserID}, page, size)
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
	return walletOf(st, repositories.WalletOwner{ClinicID: clinicID}, page, size)
}

func walletOf(st *repositories.Store, o repositories.WalletOwner, page, size int) (WalletView, error) {
	w, err := st.Billing.Wallet(o)
	if errors.Is(err, models.ErrNotFound) {
		return WalletView{Entries: repositories.EntryPage{Items: []models.CreditEntry{}}}, nil
	}
	if err != nil {
		return WalletView{}, err
	}
	p, err := st.Billing.Entries(w.ID, page, size)
	return WalletView{Balance: w.Balance, Entries: p}, err
}
