package models

import "time"

// Kinds of credit entries: how a wallet's balance moved.
const (
	CreditPurchase = "purchase"
	CreditUse      = "use"
	CreditRefund   = "refund"
	CreditGrant    = "grant"
	CreditExpiry   = "expiry"
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
}

// AuditCreditsGranted: an ADMIN granted credits (entity: the user or clinic).
const AuditCreditsGranted = "credits.grant"
