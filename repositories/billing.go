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

// WalletByID returns a wallet by its id.
func (r *Billing) WalletByID(id string) (*models.Wallet, error) {
	var w models.Wallet
	if err := r.db.Where("id = ?", id).Take(&w).Error; err != nil {
		return nil, translate(err)
	}
	return &w, nil
}

// AddLot records a lot of credits that arrived in the wallet.
func (r *Billing) AddLot(l *models.CreditLot) error {
	if l.ID == "" {
		l.ID = uuid.NewString()
	}
	return translate(r.db.Create(l).Error)
}

// NextLot is the live lot (unexpired at now) with credits left a use takes
// from: the one that expires first, lots without expiry last, then the
// oldest. models.ErrNotFound: every credit left has expired.
func (r *Billing) NextLot(walletID string, now time.Time) (*models.CreditLot, error) {
	var l models.CreditLot
	err := r.db.Where("wallet_id = ? AND remaining > 0 AND (expires_at IS NULL OR expires_at > ?)", walletID, now).
		Order("CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, expires_at, created_at, id").Take(&l).Error
	if err != nil {
		return nil, translate(err)
	}
	return &l, nil
}

// TakeFromLot takes one credit from the lot if it still holds one and has
// not expired at now: one conditional UPDATE. False: a concurrent use or
// expiry got there first (nothing changed).
func (r *Billing) TakeFromLot(lotID string, now time.Time) (bool, error) {
	res := r.db.Model(&models.CreditLot{}).Where("id = ? AND remaining >= 1 AND (expires_at IS NULL OR expires_at > ?)", lotID, now).
		Update("remaining", gorm.Expr("remaining - 1"))
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ReturnToLot puts n credits back into a lot (a refund).
func (r *Billing) ReturnToLot(lotID string, n int64) error {
	res := r.db.Model(&models.CreditLot{}).Where("id = ?", lotID).Update("remaining", gorm.Expr("remaining + ?", n))
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected != 1 {
		return models.ErrNotFound
	}
	return nil
}

// DueLots lists up to limit lots with credits left whose expiry is at or
// before now, of one wallet (walletID "": of every wallet), earliest first.
func (r *Billing) DueLots(walletID string, now time.Time, limit int) ([]models.CreditLot, error) {
	out := []models.CreditLot{}
	q := r.db.Where("remaining > 0 AND expires_at IS NOT NULL AND expires_at <= ?", now)
	if walletID != "" {
		q = q.Where("wallet_id = ?", walletID)
	}
	return out, translate(q.Order("expires_at, id").Limit(limit).Find(&out).Error)
}

// EmptyLot sets a lot's remaining credits to zero if they are still the
// remaining it read: one conditional UPDATE, so of concurrent expiries of
// a lot exactly one sees true, and a use or refund in between makes it
// read again.
func (r *Billing) EmptyLot(lotID string, remaining int64) (bool, error) {
	res := r.db.Model(&models.CreditLot{}).Where("id = ? AND remaining = ?", lotID, remaining).Update("remaining", 0)
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

// LotSumOf is the sum of the remaining credits of the wallet's lots (what
// its balance must equal).
func (r *Billing) LotSumOf(walletID string) (int64, error) {
	var s int64
	err := r.db.Model(&models.CreditLot{}).Where("wallet_id = ?", walletID).Select("COALESCE(SUM(remaining), 0)").Scan(&s).Error
	return s, translate(err)
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

// CreatePackage inserts a package (models.ErrConflict on a taken code).
func (r *Billing) CreatePackage(p *models.Package) error {
	return translate(r.db.Create(p).Error)
}

// SavePackage writes every field of a package.
func (r *Billing) SavePackage(p *models.Package) error {
	return translate(r.db.Save(p).Error)
}

// Package returns a package by id.
func (r *Billing) Package(id string) (*models.Package, error) {
	var p models.Package
	if err := r.db.Where("id = ?", id).Take(&p).Error; err != nil {
		return nil, translate(err)
	}
	return &p, nil
}

// Packages lists packages by price (active ones only unless all; of one
// audience unless "").
func (r *Billing) Packages(audience string, all bool) ([]models.Package, error) {
	out := []models.Package{}
	q := r.db.Model(&models.Package{})
	if audience != "" {
		q = q.Where("audience = ?", audience)
	}
	if !all {
		q = q.Where("active = ?", true)
	}
	return out, translate(q.Order("price_vnd, code").Find(&out).Error)
}

// CreateOrder inserts an order.
func (r *Billing) CreateOrder(o *models.Order) error { return translate(r.db.Create(o).Error) }

// Order returns an order by id.
func (r *Billing) Order(id string) (*models.Order, error) {
	var o models.Order
	if err := r.db.Where("id = ?", id).Take(&o).Error; err != nil {
		return nil, translate(err)
	}
	return &o, nil
}

// OrderPage is one page of orders, newest first.
type OrderPage struct {
	Items []models.Order
	Total int64
}

// Orders pages a patient's own orders (clinicID "") or a clinic's.
func (r *Billing) Orders(userID, clinicID string, page, pageSize int) (OrderPage, error) {
	p := OrderPage{Items: []models.Order{}}
	q := r.db.Model(&models.Order{})
	if clinicID != "" {
		q = q.Where("clinic_id = ?", clinicID)
	} else {
		q = q.Where("user_id = ? AND clinic_id IS NULL", userID)
	}
	if err := q.Count(&p.Total).Error; err != nil {
		return p, translate(err)
	}
	err := q.Order("created_at DESC, id DESC").Limit(pageSize).Offset((page - 1) * pageSize).Find(&p.Items).Error
	return p, translate(err)
}

// SettleOrder moves an order from one of the statuses from to status
// (paid or failed) once: a conditional UPDATE, so of concurrent
// settlements exactly one sees true.
func (r *Billing) SettleOrder(id string, from []string, status string, ref, code *string, paidAt *time.Time) (bool, error) {
	res := r.db.Model(&models.Order{}).Where("id = ? AND status IN ?", id, from).
		Updates(map[string]any{"status": status, "provider_ref": ref, "response_code": code, "paid_at": paidAt})
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ExpireOrders marks pending orders whose payment window ended before now
// expired; it returns how many.
func (r *Billing) ExpireOrders(now time.Time) (int64, error) {
	res := r.db.Model(&models.Order{}).Where("status = ? AND expires_at < ?", models.OrderPending, now).
		Update("status", models.OrderExpired)
	return res.RowsAffected, translate(res.Error)
}

// Revenue sums the paid orders in [from, to): count, VND, and by package.
type Revenue struct {
	PackageID string
	Orders    int64
	Vnd       int64
}

// RevenueByPackage sums paid orders by package, paid in [from, to).
func (r *Billing) RevenueByPackage(from, to time.Time) ([]Revenue, error) {
	out := []Revenue{}
	err := r.db.Model(&models.Order{}).Select("package_id, COUNT(*) AS orders, COALESCE(SUM(amount_vnd), 0) AS vnd").
		Where("status = ? AND paid_at >= ? AND paid_at < ?", models.OrderPaid, from, to).Group("package_id").Order("package_id").Scan(&out).Error
	return out, translate(err)
}
