package tests

import (
	"net/http"
	"testing"

	"aura/internal/testenv"
)

type session struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int    `json:"expiresIn"`
	User         struct {
		ID            string  `json:"id"`
		Email         string  `json:"email"`
		FullName      string  `json:"fullName"`
		Phone         *string `json:"phone"`
		Avatar        string  `json:"avatar"`
		EmailVerified bool    `json:"emailVerified"`
		IsActive      bool    `json:"isActive"`
		CreatedAt     string  `json:"createdAt"`
	} `json:"user"`
	Roles []struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	} `json:"roles"`
}

const goodPassword = "violet-harbor-lantern-91"

func register(t testing.TB, s *testenv.Server, email string) session {
	t.Helper()
	var out session
	s.Do(t, "POST", "/api/auth/register", map[string]any{"email": email, "password": goodPassword}, "").
		Expect(t, http.StatusCreated, "").Data(t, &out)
	return out
}

func TestRegisterLoginMe(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		reg := register(t, s, "  Alice.Smith@Example.com ")
		if reg.User.Email != "Alice.Smith@Example.com" || reg.User.FullName != "Alice.Smith" || reg.TokenType != "Bearer" ||
			reg.ExpiresIn != 900 || len(reg.Roles) != 1 || reg.Roles[0].Name != "PATIENT" || reg.User.EmailVerified || !reg.User.IsActive {
			t.Fatalf("register session: %+v", reg)
		}
		var login session
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "alice.smith@EXAMPLE.com", "password": goodPassword}, "").
			Expect(t, http.StatusOK, "").Data(t, &login)
		if login.User.ID != reg.User.ID {
			t.Fatalf("login user %s, registered %s", login.User.ID, reg.User.ID)
		}
		var me struct {
			ID    string                  `json:"id"`
			Roles []struct{ Name string } `json:"roles"`
		}
		s.Do(t, "GET", "/api/auth/me", nil, login.AccessToken).Expect(t, http.StatusOK, "").Data(t, &me)
		if me.ID != reg.User.ID || len(me.Roles) != 1 {
			t.Fatalf("me: %+v", me)
		}
		s.Do(t, "POST", "/api/auth/register", map[string]any{"email": "ALICE.smith@example.com", "password": goodPassword}, "").
			Expect(t, http.StatusConflict, "EMAIL_TAKEN")
		wrong := s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "alice.smith@example.com", "password": "wrong-password-123"}, "").
			Expect(t, http.StatusUnauthorized, "INVALID_CREDENTIALS")
		unknown := s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "nobody@example.com", "password": "wrong-password-123"}, "").
			Expect(t, http.StatusUnauthorized, "INVALID_CREDENTIALS")
		if string(wrong.Body) != string(unknown.Body) {
			t.Fatalf("bodies differ: %s vs %s", wrong.Body, unknown.Body)
		}
	})
}
