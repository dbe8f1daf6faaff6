package billing

import (
	"context"
	"errors"
	"time"

	"aura/models"
	"aura/repositories"
)

// Expired is what one expiry pass did.
type Expired struct {
	// Lots is how many lots had credits left that lapsed; Credits how many
	// credits that took off the wallets.
	Lots, Credits int64
	// Orders is how many pending orders passed their payment window.
	Orders int64
}

// Expire is housekeeping's billing pass at now: pending orders past their
// window become expired, and the credits left in every lot past its
// expiry lapse (ExpireCredits). Batch bounds each statement's work.
func Expire(ctx context.Context, st *repositories.Store, now time.Time, batch int) (Expired, error) {
	var out Expired
	n, err := ExpireOrders(st, now)
	out.Orders = n
	if err != nil {
		return out, err
	}
	lots, credits, err := ExpireCredits(ctx, st, "", now, batch)
	out.Lots, out.Credits = lots, credits
	return out, err
}

// ExpireOrders marks the pending orders whose payment window ended before
// now expired: housekeeping does it for all, and a listing of orders does
// it first, with the same rule, so a list never shows pending an order
// housekeeping would expire.
func ExpireOrders(st *repositories.Store, now time.Time) (int64, error) {
	return st.Billing.ExpireOrders(now)
}

// statusAt is an order's status as of now: pending past its window reads
// expired even before a listing or housekeeping wrote it.
func statusAt(o *models.Order, now time.Time) string {
	if o.Status == models.OrderPending && o.ExpiresAt.Before(now) {
		return models.OrderExpired
	}
	return o.Status
}

// ExpireCredits writes, for each lot of walletID ("": of every wallet)
// with credits left and an expiry at or before now, one expiry entry of
// what it has left and takes that off its wallet, each lot in its own
// transaction, batch lots per read. A lot is emptied by a conditional
// UPDATE on the remaining it read, so two housekeepers (or a housekeeper
// and a wallet read) expire a credit once; the debit never takes the
// balance below zero. It returns how many lots and credits lapsed.
func ExpireCredits(ctx context.Context, st *repositories.Store, walletID string, now time.Time, batch int) (lots, credits int64, err error) {
	if batch <= 0 {
		batch = 1000
	}
	for ctx.Err() == nil {
		due, err := st.Billing.DueLots(walletID, now, batch)
		if err != nil {
			return lots, credits, err
		}
		progress := false
		for _, lot := range due {
			var n int64
			err := st.Tx(func(tx *repositories.Store) error {
				var err error
				n, err = expireLot(tx, lot, now)
				return err
			})
			if errors.Is(err, errLotMoved) {
				continue // rolled back; the next pass reads it again
			}
			if err != nil {
				return lots, credits, err
			}
			if n > 0 {
				lots, credits, progress = lots+1, credits+n, true
			}
		}
		if len(due) < batch || !progress {
			return lots, credits, nil
		}
	}
	return lots, credits, ctx.Err()
}

// errLotMoved: the lot or its wallet changed under an expiry; the lot is
// left for the next pass.
var errLotMoved = errors.New("credit lot changed during expiry")

// expireLot empties one due lot in tx and writes its expiry entry. 0: a
// concurrent expiry, use or refund moved it first (nothing written).
func expireLot(tx *repositories.Store, lot models.CreditLot, now time.Time) (int64, error) {
	ok, err := tx.Billing.EmptyLot(lot.ID, lot.Remaining)
	if err != nil || !ok {
		return 0, err
	}
	w, err := tx.Billing.WalletByID(lot.WalletID)
	if err != nil {
		return 0, err
	}
	n := min(lot.Remaining, w.Balance)
	if n <= 0 {
		return 0, nil
	}
	ok, err = tx.Billing.Debit(w.ID, n, now)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, errLotMoved
	}
	_, err = tx.Billing.AddEntry(&models.CreditEntry{WalletID: w.ID, Kind: models.CreditExpiry, Delta: -n,
		Reason: "credits expired", OrderID: lot.OrderID, CreatedAt: now, ExpiresAt: lot.ExpiresAt, LotID: &lot.ID})
	return n, err
}
