package repositories

import (
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"aura/models"
)

// Billing is the credit ledger: wallets and their append-only entries.
type Billing struct{ db *gorm.DB }

// WalletOwner names a wallet: a patient account or a clinic (exactly one).
type WalletOwner struct {
	UserID   string
	ClinicID string
}

func (o WalletOwner) where(q *gorm.DB) *gorm.DB {
	if o.ClinicID != "" {
		return q.Where("clinic_id = ?", o.ClinicID)
	}
	return q.Where("user_id = ?", o.UserID)
}

// Wallet returns the owner's wallet, models.ErrNotFound when it has none yet.
func (r *Billing) Wallet(o WalletOwner) (*models.Wallet, error) {
	var w models.Wallet
	if err := o.where(r.db).Take(&w).Error; err != nil {
		return nil, translate(err)
	}
	return &w, nil
}

// EnsureWallet returns the owner's wallet, creating an empty one (a
// concurrent twin's insert wins quietly).
func (r *Billing) EnsureWallet(o WalletOwner, now time.Time) (*models.Wallet, error) {
	w := &models.Wallet{ID: uuid.NewString(), CreatedAt: now, UpdatedAt: now}
	if o.ClinicID != "" {
		w.ClinicID = &o.ClinicID
	} else {
		w.UserID = &o.UserID
	}
	if err := r.db.Clauses(clause.OnConflict{DoNothing: true}).Create(w).Error; err != nil {
		return nil, translate(err)
	}
	return r.Wallet(o)
}

// Debit takes n credits from the wallet if it holds at least n: one
// conditional UPDATE, so concurrent debits can never take the balance below
// zero. False: not enough credit (nothing changed).
func (r *Billing) Debit(walletID string, n int64, now time.Time) (bool, error) {
	res := r.db.Model(&models.Wallet{}).Where("id = ? AND balance >= ?", walletID, n).
		Updates(map[string]any{"balance": gorm.Expr("balance - ?", n), "updated_at": now})
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Credit adds n credits to the wallet.
func (r *Billing) Credit(walletID string, n int64, now time.Time) error {
	res := r.db.Model(&models.Wallet{}).Where("id = ?", walletID).
		Updates(map[string]any{"balance": gorm.Expr("balance + ?", n), "updated_at": now})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected != 1 {
		return models.ErrNotFound
	}
	return nil
}

// AddEntry appends an entry. False when an entry of its kind for its
// screening exists already (nothing written; the transaction stays usable).
func (r *Billing) AddEntry(e *models.CreditEntry) (bool, error) {
	if e.ID == "" {
		e.ID = uuid.NewString()
	}
	res := r.db.Clauses(clause.OnConflict{DoNothing: true}).Create(e)
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

// UseOf returns the use entry of a screening, models.ErrNotFound when its
// upload took no credit.
func (r *Billing) UseOf(screeningID string) (*models.CreditEntry, error) {
	var e models.CreditEntry
	if err := r.db.Where("screening_id = ? AND kind = ?", screeningID, models.CreditUse).Take(&e).Error; err != nil {
		return nil, translate(err)
	}
	return &e, nil
}

// EntryPage is one page of a wallet's entries, newest first.
type EntryPage struct {
	Items []models.CreditEntry
	Total int64
}

// Entries pages the wallet's entries, newest first.
func (r *Billing) Entries(walletID string, page, pageSize int) (EntryPage, error) {
	p := EntryPage{Items: []models.CreditEntry{}}
	q := r.db.Model(&models.CreditEntry{}).Where("wallet_id = ?", walletID)
	if err := q.Count(&p.Total).Error; err != nil {
		return p, translate(err)
	}
	err := q.Order("created_at DESC, id DESC").Limit(pageSize).Offset((page - 1) * pageSize).Find(&p.Items).Error
	return p, translate(err)
}

// SumOf is the sum of the wallet's entries (what its balance must equal).
func (r *Billing) SumOf(walletID string) (int64, error) {
	var s int64
	err := r.db.Model(&models.CreditEntry{}).Where("wallet_id = ?", walletID).Select("COALESCE(SUM(delta), 0)").Scan(&s).Error
	return s, translate(err)
}
