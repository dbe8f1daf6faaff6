package accounts_test

import (
	"fmt"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
	"aura/services/accounts"
)

// TestUpdateProfile: typed changes set, clear (null or blank) or leave each
// field; a refused change names every field at fault and changes nothing.
func TestUpdateProfile(t *testing.T) {
	set := func(v string) models.Opt[string] { return models.Opt[string]{Set: true, Value: v} }
	null := models.Opt[string]{Set: true, Null: true}
	const (
		oldName, oldPhone, oldAvatar = "Old Name", "555 0100", "https://old.example/a.png"
		badPhone                     = "must be a phone number: digits, spaces, +, -, ( and ), at most 32 characters"
		badAvatar                    = "must be an https URL of at most 255 characters, without credentials, on a public host"
	)
	cases := []struct {
		name        string
		ch          accounts.ProfileChange
		wantErr     *models.Error
		wantDetails map[string]string
		// want is name, phone, avatar afterwards ("" for null).
		want [3]string
	}{
		{name: "sets name, phone and avatar, trimmed",
			ch:   accounts.ProfileChange{FullName: set("  Ada Lovelace "), Phone: set(" +44 (20) 7946-0000 "), Avatar: set("https://img.example/ada.png")},
			want: [3]string{"Ada Lovelace", "+44 (20) 7946-0000", "https://img.example/ada.png"}},
		{name: "null clears the phone, the rest is left", ch: accounts.ProfileChange{Phone: null},
			want: [3]string{oldName, "", oldAvatar}},
		{name: "a blank phone clears it too", ch: accounts.ProfileChange{Phone: set("   ")},
			want: [3]string{oldName, "", oldAvatar}},
		{name: "null clears the avatar", ch: accounts.ProfileChange{Avatar: null},
			want: [3]string{oldName, oldPhone, ""}},
		{name: "an empty change changes nothing", ch: accounts.ProfileChange{},
			want: [3]string{oldName, oldPhone, oldAvatar}},
		{name: "a blank name is refused", ch: accounts.ProfileChange{FullName: set("  "), Phone: null},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"fullName": "must not be empty"}},
		{name: "a null name is refused", ch: accounts.ProfileChange{FullName: null},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"fullName": "must not be empty"}},
		{name: "every bad field is named", ch: accounts.ProfileChange{FullName: set("Ada\u200b"), Phone: set("call me"), Avatar: set("javascript:alert(1)")},
			wantErr: models.ErrInvalid, wantDetails: map[string]string{"fullName": "must not contain control, bidi or invisible characters",
				"phone": badPhone, "avatar": badAvatar}},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		v := newEnv(t, e, nil)
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				u := v.account(t, fmt.Sprintf("user%d@example.com", i))
				testenv.Must(t, v.st.Users.Update(u.ID, repositories.Changes{FullName: ptr(oldName), Phone: set(oldPhone), AvatarURL: set(oldAvatar)},
					v.clock.Now()), "set up")
				u, err := v.st.Users.ByID(u.ID)
				testenv.Must(t, err, "ByID")
				before := *u.UpdatedAt
				v.clock.Add(time.Minute)

				got, err := v.svc.UpdateProfile(testenv.Ctx(t), v.st, u, c.ch)
				checkErr(t, err, c.wantErr, c.wantDetails)
				stored, err := v.st.Users.ByID(u.ID)
				testenv.Must(t, err, "ByID")
				want := c.want
				if c.wantErr != nil {
					want = [3]string{oldName, oldPhone, oldAvatar}
				}
				if have := profile(stored); have != want {
					t.Fatalf("stored %q, want %q", have, want)
				}
				if c.wantErr != nil {
					if !stored.UpdatedAt.Equal(before) {
						t.Errorf("a refused change moved updated_at")
					}
					return
				}
				if have := profile(got); have != want {
					t.Errorf("returned %q, want %q", have, want)
				}
				wantUpdated := v.clock.Now()
				if c.ch == (accounts.ProfileChange{}) {
					wantUpdated = before // nothing to write
				}
				if !stored.UpdatedAt.Equal(wantUpdated) {
					t.Errorf("updated_at %v, want %v", stored.UpdatedAt, wantUpdated)
				}
			})
		}
	})
}

func profile(u *models.User) [3]string {
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return [3]string{s(u.FullName), s(u.Phone), s(u.AvatarURL)}
}
