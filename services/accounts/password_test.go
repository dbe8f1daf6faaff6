package accounts_test

import (
	"fmt"
	"testing"

	"aura/internal/testenv"
	"aura/models"
	"aura/security"
	"aura/services/accounts"
)

// TestChangePassword: a refused change changes nothing; an accepted one
// replaces the password, revokes the user's other sessions (not the current
// one), voids outstanding reset links and queues a notice.
func TestChangePassword(t *testing.T) {
	const required = "is required"
	cases := []struct {
		name        string
		in          accounts.ChangePasswordInput
		wantErr     *models.Error
		wantDetails map[string]string
	}{
		{name: "blank fields", in: accounts.ChangePasswordInput{},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"currentPassword": required, "newPassword": required, "confirmPassword": required}},
		{name: "wrong current password", in: accounts.ChangePasswordInput{CurrentPassword: "not it at all", NewPassword: newPassword, ConfirmPassword: newPassword},
			wantErr: models.ErrBadCredentials},
		{name: "confirmation differs", in: accounts.ChangePasswordInput{CurrentPassword: password, NewPassword: newPassword, ConfirmPassword: newPassword + "!"},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"confirmPassword": "does not match newPassword"}},
		{name: "same as the current one", in: accounts.ChangePasswordInput{CurrentPassword: password, NewPassword: password, ConfirmPassword: password},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"newPassword": "must differ from the current password"}},
		{name: "too weak", in: accounts.ChangePasswordInput{CurrentPassword: password, NewPassword: "aaaaaaaaaaaa", ConfirmPassword: "aaaaaaaaaaaa"},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"newPassword": "is too common or easy to guess; try a longer phrase of unrelated words"}},
		{name: "accepted", in: accounts.ChangePasswordInput{CurrentPassword: password, NewPassword: newPassword, ConfirmPassword: newPassword}},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		v := newEnv(t, e, nil)
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx := testenv.Ctx(t)
				email := fmt.Sprintf("user%d@example.com", i)
				v.account(t, email)
				current, other := v.login(t, email, password), v.login(t, email, password)
				testenv.Must(t, v.svc.ForgotPassword(ctx, v.st, email), "forgot password")
				reset := v.mailedToken(t, models.MailResetPassword, email)

				err := v.svc.ChangePassword(ctx, v.st, current.User, current.SessionID, c.in)
				checkErr(t, err, c.wantErr, c.wantDetails)

				changed := c.wantErr == nil
				loginWith := map[bool]string{true: newPassword, false: password}[changed]
				oldWith := map[bool]string{true: password, false: newPassword}[changed]
				if _, err := v.svc.Login(ctx, v.st, accounts.LoginInput{Email: email, Password: oldWith}, accounts.Client{IP: fmt.Sprintf("10.0.0.%d", i)}); models.CodeOf(err) != models.CodeInvalidCredentials {
					t.Errorf("login with the password not in force: %v", err)
				}
				v.login(t, email, loginWith)
				if _, err := v.st.Tokens.Peek(models.PurposeResetPassword, security.HashToken(reset), v.clock.Now()); (err == nil) == changed {
					t.Errorf("reset link live = %v after the change (err %v), want %v", err == nil, err, !changed)
				}
				if _, err := v.refresh(t, other.RefreshToken); (err == nil) == changed {
					t.Errorf("the other session alive = %v (err %v), want %v", err == nil, err, !changed)
				}
				if _, err := v.refresh(t, current.RefreshToken); err != nil {
					t.Errorf("the current session was ended: %v", err)
				}
				if n := len(v.mails(t, models.MailPasswordChanged, email)); n != map[bool]int{true: 1, false: 0}[changed] {
					t.Errorf("%d password-changed notices queued", n)
				}
				if changed {
					err := v.svc.ResetPassword(ctx, v.st, accounts.ResetPasswordInput{Token: reset, NewPassword: password, ConfirmPassword: password})
					checkErr(t, err, models.ErrTokenInvalid, nil)
				}
			})
		}
	})
}
