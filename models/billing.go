package models

import "time"

// Kinds of credit entries: how a wallet's balance moved.
const (
	CreditPurchase = "purchase"
	CreditUse      = "use"
	CreditRefund   = "refund"
	CreditGrant    = "grant"
	CreditExpiry   = "expire"
)

// CodePaymentRequired: billing is on and the wallet an upload draws on has
// no credit left (402).
const CodePaymentRequired Code = "PAYMENT_REQUIRED"

// ErrPaymentRequired: no credit left for an upload; nothing was stored.
var ErrPaymentRequired = &Error{Code: CodePaymentRequired, Message: "No screening credit left; buy a package to upload"}

// Wallet holds the credits of one patient account (UserID) or one clinic
// (ClinicID). Balance is the sum of its entries, kept in the same
// transaction as each entry; the database refuses a negative balance and
// every debit is a conditional UPDATE (balance >= n).
type Wallet struct {
	ID        string    `gorm:"primaryKey;size:36"`
	UserID    *string   `gorm:"size:36;uniqueIndex"`
	ClinicID  *string   `gorm:"size:36;uniqueIndex"`
	Balance   int64     `gorm:"not null;default:0;check:chk_wallets_balance,balance >= 0"`
	CreatedAt time.Time `gorm:"not null"`
	UpdatedAt time.Time `gorm:"not null"`
}

// CreditEntry is one append-only line of a wallet's ledger: Delta credits
// (negative for use and expiry) of a Kind, with what caused it. A screening
// has at most one use and one refund (unique index).
type CreditEntry struct {
	ID          string     `gorm:"primaryKey;size:36"`
	WalletID    string     `gorm:"size:36;not null;index:idx_credit_entries_wallet,priority:1"`
	Kind        string     `gorm:"size:16;not null;uniqueIndex:idx_credit_entries_screening,priority:2"`
	Delta       int64      `gorm:"not null"`
	Reason      string     `gorm:"size:200;not null"`
	OrderID     *string    `gorm:"size:36;index"`
	ScreeningID *string    `gorm:"size:36;uniqueIndex:idx_credit_entries_screening,priority:1"`
	ActorID     *string    `gorm:"size:36"`
	CreatedAt   time.Time  `gorm:"not null;index:idx_credit_entries_wallet,priority:2"`
	ExpiresAt   *time.Time `gorm:""`
	// LotID is the lot a use took its credit from, a refund gave it back
	// to, an expiry ended, a purchase or grant opened (nil: an entry
	// written before lots existed).
	LotID *string `gorm:"size:36;index"`
}

// CreditLot is a batch of credits that arrived together (a paid order, a
// grant, or the opening balance of a wallet from before lots) and the part
// of it still unused. Every credit of a wallet's balance sits in exactly one
// lot: the balance equals the sum of its lots' Remaining. A use takes from
// the live lot (ExpiresAt nil or later than now) that expires first, ties
// and lots without expiry by age (FIFO); housekeeping writes an expiry
// entry for the Remaining of each lot past ExpiresAt and sets it to zero,
// with one conditional UPDATE (remaining = the amount it read), so a credit
// expires once.
type CreditLot struct {
	ID        string     `gorm:"primaryKey;size:36"`
	WalletID  string     `gorm:"size:36;not null;index:idx_credit_lots_wallet,priority:1"`
	OrderID   *string    `gorm:"size:36"`
	Credits   int64      `gorm:"not null"`
	Remaining int64      `gorm:"not null;check:chk_credit_lots_remaining,remaining >= 0"`
	ExpiresAt *time.Time `gorm:"index:idx_credit_lots_wallet,priority:2;index:idx_credit_lots_expiry"`
	CreatedAt time.Time  `gorm:"not null"`
}

// AuditCreditsGranted: an ADMIN granted credits (entity: the user or clinic).
const AuditCreditsGranted = "credits.grant"

// Audiences of a package: who may buy it.
const (
	AudiencePatient = "patient"
	AudienceClinic  = "clinic"
)

// Statuses of an order.
const (
	OrderPending = "pending"
	OrderPaid    = "paid"
	OrderFailed  = "failed"
	OrderExpired = "expired"
)

// Package is a bundle of credits an ADMIN sells at a price in VND.
type Package struct {
	ID        string    `gorm:"primaryKey;size:36"`
	Code      string    `gorm:"size:64;not null;uniqueIndex"`
	NameVi    string    `gorm:"size:200;not null"`
	NameEn    string    `gorm:"size:200;not null"`
	Audience  string    `gorm:"size:16;not null;index"`
	Credits   int64     `gorm:"not null"`
	PriceVnd  int64     `gorm:"not null"`
	ValidDays *int      `gorm:""`
	Active    bool      `gorm:"not null;default:true"`
	CreatedAt time.Time `gorm:"not null"`
	UpdatedAt time.Time `gorm:"not null"`
}

// Order is one purchase of a package by a patient account (UserID) or for
// a clinic (ClinicID, bought by its CLINIC_ADMIN UserID). It leaves pending
// exactly once (a conditional UPDATE on status), granting its credits in
// the same transaction when paid.
type Order struct {
	ID           string     `gorm:"primaryKey;size:36"`
	PackageID    string     `gorm:"size:36;not null;index"`
	UserID       string     `gorm:"size:36;not null;index"`
	ClinicID     *string    `gorm:"size:36;index"`
	AmountVnd    int64      `gorm:"not null"`
	Credits      int64      `gorm:"not null"`
	Status       string     `gorm:"size:16;not null;index"`
	Provider     string     `gorm:"size:16;not null"`
	ProviderRef  *string    `gorm:"size:64"`
	ResponseCode *string    `gorm:"size:8"`
	CreatedAt    time.Time  `gorm:"not null;index"`
	ExpiresAt    time.Time  `gorm:"not null"`
	PaidAt       *time.Time `gorm:""`
}

// AuditPackageSave: an ADMIN created or changed a package.
const AuditPackageSave = "package.save"

// EntityPackage is the audit entity of a package.
const EntityPackage = "package"
