package accounts

import (
	"context"
	"strings"

	"aura/models"
	"aura/repositories"
)

// ProfileChange is a PATCH of one's profile: fullName (not null, not empty),
// phone (null clears), avatar (an https URL on a public host, see validAvatar; null clears).
type ProfileChange struct {
	FullName models.Opt[string]
	Phone    models.Opt[string]
	Avatar   models.Opt[string]
	// Language is the language of the account's mail and notices (vi, en).
	Language models.Opt[string]
}

// UpdateProfile validates ch and applies it to u, returning u as changed.
func (s *Service) UpdateProfile(ctx context.Context, st *repositories.Store, u *models.User, ch ProfileChange) (*models.User, error) {
	var upd repositories.Changes
	details := map[string]string{}
	if ch.FullName.Set {
		name := strings.TrimSpace(ch.FullName.Value)
		switch {
		case ch.FullName.Null || name == "":
			details["fullName"] = "must not be empty"
		case CheckName(name) != "":
			details["fullName"] = CheckName(name)
		default:
			upd.FullName = &name
		}
	}
	upd.Phone = optText(ch.Phone, "phone", validPhone,
		"must be a phone number: digits, spaces, +, -, ( and ), at most 32 characters", details)
	upd.AvatarURL = optText(ch.Avatar, "avatar", validAvatar, badAvatar, details)
	if ch.Avatar.Set && !ch.Avatar.Null && details["avatar"] == "" && models.IsOutsideAvatar(ch.Avatar.Value) {
		// An outside avatar service would receive the name in the URL from
		// every browser that shows it: AURA draws the initials itself.
		details["avatar"] = "must not be an outside avatar service; leave it empty for AURA's own initials avatar"
		upd.AvatarURL = models.Opt[string]{}
	}
	if ch.Language.Set {
		if ch.Language.Null || (ch.Language.Value != "vi" && ch.Language.Value != "en") {
			details["language"] = "must be vi or en"
		} else {
			upd.Lang = &ch.Language.Value
		}
	}
	if len(details) > 0 {
		return nil, models.Invalid(details)
	}
	err := st.Tx(func(tx *repositories.Store) error {
		if err := tx.Users.Update(u.ID, upd, s.Now()); err != nil {
			return err
		}
		if upd.FullName == nil {
			return nil
		}
		// The patient record searches by the account's name: refolded in
		// the same transaction.
		return tx.Patients.RenameAccount(u.ID)
	})
	if err != nil {
		return nil, err
	}
	out := *u
	if upd.FullName != nil {
		out.FullName = upd.FullName
	}
	out.Phone = applyOpt(out.Phone, upd.Phone)
	out.AvatarURL = applyOpt(out.AvatarURL, upd.AvatarURL)
	if upd.Lang != nil {
		out.Lang = upd.Lang
	}
	return &out, nil
}

// optText trims an optional text field: empty means null; a value that valid
// refuses is reported under field.
func optText(o models.Opt[string], field string, valid func(string) bool, msg string, details map[string]string) models.Opt[string] {
	if !o.Set {
		return o
	}
	v := strings.TrimSpace(o.Value)
	if o.Null || v == "" {
		return models.Opt[string]{Set: true, Null: true}
	}
	if !valid(v) {
		details[field] = msg
		return models.Opt[string]{}
	}
	return models.Opt[string]{Set: true, Value: v}
}

func applyOpt(cur *string, o models.Opt[string]) *string {
	switch {
	case !o.Set:
		return cur
	case o.Null:
		return nil
	}
	v := o.Value
	return &v
}
