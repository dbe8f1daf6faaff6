package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"aura/models"
	"aura/repositories"
	"aura/services/accounts"
)

// flagOf names the command-line flag of each field of an account.
var flagOf = map[string]string{"email": "--email", "fullName": "--name", "roles": "--role", "password": "password"}

// CreateUser makes an account from the command line (the first admin, say)
// through the same rules as sign-up, with the given roles, the email counted
// as verified since the operator vouches for it. Role names are taken in any
// case. A refused field comes back as one line naming its flag.
func (a *App) CreateUser(ctx context.Context, email, password, fullName string, roles []string) (*models.User, error) {
	for i, r := range roles {
		roles[i] = strings.ToUpper(strings.TrimSpace(r))
	}
	var name *string
	if fullName != "" {
		name = &fullName
	}
	u, err := a.Accounts.Create(ctx, repositories.New(a.DB.WithContext(ctx)), accounts.NewAccount{
		Email: email, Password: password, FullName: name, Roles: roles, Verified: true,
	})
	var dom *models.Error
	switch {
	case errors.Is(err, models.ErrEmailTaken):
		return nil, fmt.Errorf("--email: an account with this email already exists")
	case errors.As(err, &dom) && len(dom.Details) > 0:
		fields := make([]string, 0, len(dom.Details))
		for f := range dom.Details {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		msgs := make([]string, len(fields))
		for i, f := range fields {
			msgs[i] = flagOf[f] + " " + dom.Details[f]
			if f == "roles" {
				msgs[i] = fmt.Sprintf("--role %q: accepted: PATIENT, DOCTOR, ADMIN", strings.Join(roles, ","))
			}
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	return u, err
}
