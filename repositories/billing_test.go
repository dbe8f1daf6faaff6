package repositories_test

import (
	"testing"

	"gorm.io/gorm"

	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
)

// TestWalletNeverNegative: a debit beyond the balance changes nothing, and
// the database itself refuses a negative balance written around the rules;
// a second refund of a screening is not written.
func TestWalletNeverNegative(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		db, st := open(t, e)
		u := newUser(t, st, "mai@wallet.example", models.RolePatient)
		w, err := st.Billing.EnsureWallet(repositories.WalletOwner{UserID: u.ID}, t0)
		testenv.Must(t, err, "wallet")
		again, err := st.Billing.EnsureWallet(repositories.WalletOwner{UserID: u.ID}, t0)
		if err != nil || again.ID != w.ID {
			t.Fatalf("second EnsureWallet: %v %v", again, err)
		}
		testenv.Must(t, st.Billing.Credit(w.ID, 1, t0), "credit")
		if ok, err := st.Billing.Debit(w.ID, 2, t0); ok || err != nil {
			t.Fatalf("debit beyond the balance: %v %v", ok, err)
		}
		if ok, err := st.Billing.Debit(w.ID, 1, t0); !ok || err != nil {
			t.Fatalf("debit: %v %v", ok, err)
		}
		err = db.WithContext(testenv.Ctx(t)).Model(&models.Wallet{}).Where("id = ?", w.ID).Update("balance", gorm.Expr("balance - 1")).Error
		if err == nil {
			t.Fatal("the database took a negative balance")
		}
		sc := "11111111-1111-4111-8111-111111111111"
		for i, want := range []bool{true, false} {
			added, err := st.Billing.AddEntry(&models.CreditEntry{WalletID: w.ID, Kind: models.CreditRefund, Delta: 1, Reason: "r", ScreeningID: &sc, CreatedAt: t0})
			if err != nil || added != want {
				t.Fatalf("refund %d: %v %v", i, added, err)
			}
		}
	})
}
