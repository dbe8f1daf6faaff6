package tests

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
	"aura/security"
)

func login(t *testing.T, s *testenv.Server, email, password string) session {
	t.Helper()
	var out session
	s.Do(t, "POST", "/api/auth/login", map[string]any{"email": email, "password": password}, "").Expect(t, 200, "").Data(t, &out)
	return out
}

func TestConcurrentDuplicateSignUp(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		variants := []string{"dup@example.com", "DUP@example.com", "Dup@Example.Com", " dup@EXAMPLE.com "}
		var wg sync.WaitGroup
		var mu sync.Mutex
		counts := map[string]int{}
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := s.Do(t, "POST", "/api/auth/register", map[string]any{"email": variants[i%len(variants)], "password": goodPassword}, "")
				mu.Lock()
				counts[fmt.Sprintf("%d %s", r.Status, r.Env.Code)]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if counts["201 "] != 1 || counts["409 EMAIL_TAKEN"] != 19 {
			t.Fatalf("outcomes: %v", counts)
		}
	})
}

func TestLookalikeEmails(t *testing.T) {
	s := testenv.Start(t, testenv.Config(t, "sqlite://", nil))
	register(t, s, "alice@example.com")
	// Fullwidth letters fold to the same address.
	s.Do(t, "POST", "/api/auth/register", map[string]any{"email": "ａｌｉｃｅ@example.com", "password": goodPassword}, "").Expect(t, 409, "EMAIL_TAKEN")
	for _, e := range []string{"ali\u200bce@example.com", "alice\u202e@example.com", "al\u2060ice@example.com", "alice@exa\u00admple.com", "ali ce@example.com", "alice@example.com\x00", "not-an-email", "a@b", "Alice <alice@example.com>"} {
		r := s.Do(t, "POST", "/api/auth/register", map[string]any{"email": e, "password": goodPassword}, "")
		if r.Status != 400 || (r.Env.Code != "VALIDATION_FAILED" && r.Env.Code != "INVALID_JSON") {
			t.Errorf("%q: %d %s", e, r.Status, r.Body)
		}
	}
	login(t, s, "ＡＬＩＣＥ@example.com", goodPassword)
}

// phrase128 is a passphrase of exactly 128 code points.
var phrase128 = "amber basil cedar dune ember fjord grove heron iris juniper kelp lotus maple nectar olive prism quartz raven sage tulip umber valeXYZ"[:128]

func TestPasswordRules(t *testing.T) {
	s := testenv.Start(t, testenv.Config(t, "sqlite://", nil))
	cases := map[string]string{
		"short":          "short-pw-1",
		"common":         "password1234",
		"contains email": "my-jonathan.doe-is-long",
		"too long":       strings.Repeat("ab cd ef gh ", 11),
	}
	for name, pw := range cases {
		r := s.Do(t, "POST", "/api/auth/register", map[string]any{"email": "jonathan.doe@example.com", "password": pw}, "").Expect(t, 400, "VALIDATION_FAILED")
		if r.Env.Details["password"] == "" {
			t.Errorf("%s: no details.password: %s", name, r.Body)
		}
	}
	// 12 code points of any script are enough; spaces allowed; 128 is the most.
	s.Do(t, "POST", "/api/auth/register", map[string]any{"email": "a1@example.com", "password": "mật khẩu dài quá"}, "").Expect(t, 201, "")
	s.Do(t, "POST", "/api/auth/register", map[string]any{"email": "a2@example.com", "password": phrase128}, "").Expect(t, 201, "")
	// Never truncated: a long password and its 72-byte prefix are different passwords.
	long := strings.Repeat("zebra-violin-", 9)
	s.Do(t, "POST", "/api/auth/register", map[string]any{"email": "a3@example.com", "password": long}, "").Expect(t, 201, "")
	s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "a3@example.com", "password": long[:72]}, "").Expect(t, 401, "INVALID_CREDENTIALS")
}

func TestTokens(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		cfg := testenv.Config(t, e.URI(t), nil)
		s := testenv.Start(t, cfg)
		a := register(t, s, "tok@example.com")

		// verify shows the claims
		var claims map[string]any
		s.Do(t, "GET", "/api/auth/verify", nil, a.AccessToken).Expect(t, 200, "").Data(t, &claims)
		if claims["sub"] != a.User.ID || claims["user_id"] != a.User.ID || claims["email"] != "tok@example.com" ||
			claims["iat"] == nil || claims["exp"] == nil || fmt.Sprint(claims["roles"]) != "[PATIENT]" {
			t.Fatalf("claims: %v", claims)
		}

		// rotation
		var r1 session
		s.Do(t, "POST", "/api/auth/refresh", map[string]string{"refreshToken": a.RefreshToken}, "").Expect(t, 200, "").Data(t, &r1)
		if r1.RefreshToken == a.RefreshToken || r1.AccessToken == "" || r1.TokenType != "Bearer" || r1.ExpiresIn != 900 {
			t.Fatalf("refresh: %+v", r1)
		}
		var r2 session
		s.Do(t, "POST", "/api/auth/refresh", map[string]string{"refreshToken": r1.RefreshToken}, "").Expect(t, 200, "").Data(t, &r2)
		// reuse of a rotated token revokes the whole session
		s.Do(t, "POST", "/api/auth/refresh", map[string]string{"refreshToken": a.RefreshToken}, "").Expect(t, 401, "UNAUTHORIZED")
		s.Do(t, "POST", "/api/auth/refresh", map[string]string{"refreshToken": r2.RefreshToken}, "").Expect(t, 401, "UNAUTHORIZED")
		s.Do(t, "GET", "/api/auth/me", nil, r2.AccessToken).Expect(t, 401, "UNAUTHORIZED")

		// the raw refresh token is not in the database
		var n int64
		testenv.Must(t, s.App.DB.Raw("SELECT count(*) FROM refresh_tokens WHERE token_hash = ?", r2.RefreshToken).Scan(&n).Error, "count")
		var hashed int64
		testenv.Must(t, s.App.DB.Raw("SELECT count(*) FROM refresh_tokens WHERE token_hash = ?", security.HashToken(r2.RefreshToken)).Scan(&hashed).Error, "count")
		if n != 0 || hashed != 1 {
			t.Fatalf("raw %d, hashed %d", n, hashed)
		}

		// forged and malformed access tokens
		b := login(t, s, "tok@example.com", goodPassword)
		other := security.NewJWT("another-secret-another-secret-0000", time.Minute)
		forged, _ := other.Issue(a.User.ID, "tok@example.com", "sid", []string{"ADMIN"}, time.Now())
		parsed, _, _ := jwt.NewParser().ParseUnverified(b.AccessToken, jwt.MapClaims{})
		none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, parsed.Claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
		hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, parsed.Claims).SignedString([]byte(cfg.Auth.JWTSecret))
		for name, h := range map[string]string{
			"other key": "Bearer " + forged, "alg none": "Bearer " + none, "alg HS512": "Bearer " + hs512,
			"no scheme": b.AccessToken, "basic": "Basic " + b.AccessToken, "empty bearer": "Bearer ",
			"garbage": "Bearer a.b.c", "truncated": "Bearer " + b.AccessToken[:len(b.AccessToken)-3],
		} {
			r := s.DoHeaders(t, "GET", "/api/auth/me", nil, map[string]string{"Authorization": h})
			if r.Status != 401 || r.Env.Code != "UNAUTHORIZED" {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		s.Do(t, "GET", "/api/auth/me", nil, "").Expect(t, 401, "UNAUTHORIZED")
		s.Do(t, "GET", "/api/auth/me", nil, b.AccessToken).Expect(t, 200, "")

		// malformed refresh tokens
		for _, bad := range []string{"x", strings.Repeat("A", 43), "../../etc/passwd"} {
			s.Do(t, "POST", "/api/auth/refresh", map[string]string{"refreshToken": bad}, "").Expect(t, 401, "UNAUTHORIZED")
		}
		s.Do(t, "POST", "/api/auth/refresh", testenv.Invalid(map[string]string{}), "").Expect(t, 400, "VALIDATION_FAILED")

		// logout revokes the session server-side: access and refresh stop working
		s.Do(t, "POST", "/api/auth/logout", nil, b.AccessToken).Expect(t, 200, "")
		s.Do(t, "GET", "/api/auth/me", nil, b.AccessToken).Expect(t, 401, "UNAUTHORIZED")
		s.Do(t, "POST", "/api/auth/refresh", map[string]string{"refreshToken": b.RefreshToken}, "").Expect(t, 401, "UNAUTHORIZED")
	})
}

func TestExpiry(t *testing.T) {
	s := testenv.Start(t, testenv.Config(t, "sqlite://", map[string]string{"AURA_AUTH_ACCESS_TTL": "1s", "AURA_AUTH_REFRESH_TTL": "2s"}))
	a := register(t, s, "exp@example.com")
	if a.ExpiresIn != 1 {
		t.Fatalf("expiresIn %d", a.ExpiresIn)
	}
	s.Do(t, "GET", "/api/auth/me", nil, a.AccessToken).Expect(t, 200, "")
	time.Sleep(2100 * time.Millisecond)
	s.Do(t, "GET", "/api/auth/me", nil, a.AccessToken).Expect(t, 401, "UNAUTHORIZED")
	s.Do(t, "POST", "/api/auth/refresh", map[string]string{"refreshToken": a.RefreshToken}, "").Expect(t, 401, "UNAUTHORIZED")
}

func TestChangePassword(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		a := register(t, s, "change@example.com")
		other := login(t, s, "change@example.com", goodPassword)
		const next = "new-orchid-kettle-58"
		cp := func(cur, nw, conf string) *testenv.Response {
			return s.Do(t, "POST", "/api/auth/change-password", map[string]string{"currentPassword": cur, "newPassword": nw, "confirmPassword": conf}, a.AccessToken)
		}
		cp("wrong-password-000", next, next).Expect(t, 401, "INVALID_CREDENTIALS")
		if r := cp(goodPassword, next, next+"x").Expect(t, 400, "VALIDATION_FAILED"); r.Env.Details["confirmPassword"] == "" {
			t.Fatalf("details: %s", r.Body)
		}
		if r := cp(goodPassword, "password1234", "password1234").Expect(t, 400, "VALIDATION_FAILED"); r.Env.Details["newPassword"] == "" {
			t.Fatalf("details: %s", r.Body)
		}
		s.Do(t, "POST", "/api/auth/change-password", testenv.Invalid(map[string]string{"currentPassword": goodPassword}), a.AccessToken).Expect(t, 400, "VALIDATION_FAILED")
		cp(goodPassword, next, next).Expect(t, 200, "")
		// this session lives on; the other is revoked
		s.Do(t, "GET", "/api/auth/me", nil, a.AccessToken).Expect(t, 200, "")
		s.Do(t, "GET", "/api/auth/me", nil, other.AccessToken).Expect(t, 401, "UNAUTHORIZED")
		s.Do(t, "POST", "/api/auth/refresh", map[string]string{"refreshToken": other.RefreshToken}, "").Expect(t, 401, "UNAUTHORIZED")
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "change@example.com", "password": goodPassword}, "").Expect(t, 401, "INVALID_CREDENTIALS")
		login(t, s, "change@example.com", next)
	})
}

func TestUpdateMe(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		a := register(t, s, "profile@example.com")
		var u struct {
			FullName string  `json:"fullName"`
			Phone    *string `json:"phone"`
			Avatar   string  `json:"avatar"`
			Roles    []any   `json:"roles"`
		}
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": " Nguyễn Thị Lan ", "phone": "+84 90 123 4567", "avatar": "https://cdn.example/a.png"}, a.AccessToken).
			Expect(t, 200, "").Data(t, &u)
		if u.FullName != "Nguyễn Thị Lan" || u.Phone == nil || *u.Phone != "+84 90 123 4567" || u.Avatar != "https://cdn.example/a.png" || len(u.Roles) != 1 {
			t.Fatalf("patched: %+v", u)
		}
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"phone": nil}, a.AccessToken).Expect(t, 200, "").Data(t, &u)
		if u.Phone != nil || u.FullName != "Nguyễn Thị Lan" {
			t.Fatalf("phone not cleared: %+v", u)
		}
		r := s.Do(t, "PATCH", "/api/auth/me", map[string]any{"avatar": "javascript:alert(1)", "phone": "call me", "fullName": ""}, a.AccessToken).Expect(t, 400, "VALIDATION_FAILED")
		if len(r.Env.Details) != 3 {
			t.Fatalf("details: %s", r.Body)
		}
		// An avatar is https on a public host, without credentials.
		for _, bad := range []string{"http://cdn.example/a.png", "https://user:pw@cdn.example/a.png", "https://127.0.0.1/a.png",
			"https://localhost/a.png", "https://[::1]/a.png", "https://169.254.169.254/a.png", "https://10.0.0.7/a.png"} {
			r := s.Do(t, "PATCH", "/api/auth/me", map[string]any{"avatar": bad}, a.AccessToken).Expect(t, 400, "VALIDATION_FAILED")
			if r.Env.Details["avatar"] == "" || len(r.Env.Details) != 1 {
				t.Fatalf("avatar %s: %s", bad, r.Body)
			}
		}
		// unknown fields never grant anything
		for _, body := range []string{`{"roles":["ADMIN"]}`, `{"isActive":true,"emailVerified":true}`, `{"email":"x@example.com"}`} {
			s.Do(t, "PATCH", "/api/auth/me", testenv.Invalid(body), a.AccessToken).Expect(t, 400, "INVALID_JSON")
		}
		var me struct {
			Email         string `json:"email"`
			EmailVerified bool   `json:"emailVerified"`
			Roles         []struct{ Name string }
		}
		s.Do(t, "GET", "/api/auth/me", nil, a.AccessToken).Expect(t, 200, "").Data(t, &me)
		if me.Email != "profile@example.com" || me.EmailVerified || len(me.Roles) != 1 || me.Roles[0].Name != "PATIENT" {
			t.Fatalf("me changed: %+v", me)
		}
	})
}

func TestAdmin(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		admin := makeAdmin(t, s, "root@clinic.example")
		p := register(t, s, "patient@example.com")
		for i := range 5 {
			register(t, s, fmt.Sprintf("bulk%d@example.com", i))
		}
		// everyone else: 403
		s.Do(t, "GET", "/api/admin/users", nil, p.AccessToken).Expect(t, 403, "FORBIDDEN")
		s.Do(t, "PATCH", "/api/admin/users/"+p.User.ID, map[string]any{"roles": []string{"ADMIN"}}, p.AccessToken).Expect(t, 403, "FORBIDDEN")
		s.Do(t, "GET", "/api/admin/users", nil, "").Expect(t, 401, "UNAUTHORIZED")

		var page struct {
			Items []struct {
				ID    string `json:"id"`
				Email string `json:"email"`
				Roles []struct{ Name string }
			} `json:"items"`
			Total    int `json:"total"`
			Page     int `json:"page"`
			PageSize int `json:"pageSize"`
		}
		s.Do(t, "GET", "/api/admin/users?page=2&pageSize=3", nil, admin).Expect(t, 200, "").Data(t, &page)
		if page.Total != 7 || len(page.Items) != 3 || page.Page != 2 || page.PageSize != 3 {
			t.Fatalf("page: %+v", page)
		}
		s.Do(t, "GET", "/api/admin/users?q=BULK", nil, admin).Expect(t, 200, "").Data(t, &page)
		if page.Total != 5 || len(page.Items) != 5 || len(page.Items[0].Roles) != 1 {
			t.Fatalf("search: %+v", page)
		}
		s.Do(t, "GET", "/api/admin/users?q=%25", nil, admin).Expect(t, 200, "").Data(t, &page)
		if page.Total != 0 {
			t.Fatalf("%% should be literal: %+v", page)
		}
		for _, q := range []string{"page=0", "pageSize=1000", "page=abc"} {
			s.Do(t, "GET", "/api/admin/users?"+q, testenv.Invalid(nil), admin).Expect(t, 400, "VALIDATION_FAILED")
		}

		// roles
		var u struct {
			IsActive bool `json:"isActive"`
			Roles    []struct{ Name string }
		}
		s.Do(t, "PATCH", "/api/admin/users/"+p.User.ID, map[string]any{"roles": []string{"DOCTOR", "PATIENT", "DOCTOR"}}, admin).Expect(t, 200, "").Data(t, &u)
		if len(u.Roles) != 2 || u.Roles[0].Name != "PATIENT" || u.Roles[1].Name != "DOCTOR" {
			t.Fatalf("roles: %+v", u)
		}
		var claims struct{ Roles []string }
		fresh := login(t, s, "patient@example.com", goodPassword)
		s.Do(t, "GET", "/api/auth/verify", nil, fresh.AccessToken).Expect(t, 200, "").Data(t, &claims)
		if len(claims.Roles) != 2 {
			t.Fatalf("new token roles: %v", claims.Roles)
		}
		s.Do(t, "PATCH", "/api/admin/users/"+p.User.ID, testenv.Invalid(map[string]any{"roles": []string{"SUPERUSER"}}), admin).Expect(t, 400, "VALIDATION_FAILED")
		s.Do(t, "PATCH", "/api/admin/users/"+p.User.ID, testenv.Invalid(map[string]any{"roles": []string{}}), admin).Expect(t, 400, "VALIDATION_FAILED")
		s.Do(t, "PATCH", "/api/admin/users/00000000-0000-0000-0000-000000000000", map[string]any{"isActive": false}, admin).Expect(t, 404, "NOT_FOUND")
		s.Do(t, "PATCH", "/api/admin/users/not-a-uuid", map[string]any{"isActive": false}, admin).Expect(t, 404, "NOT_FOUND")

		// deactivation revokes sessions and blocks login; reactivation restores it
		s.Do(t, "PATCH", "/api/admin/users/"+p.User.ID, map[string]any{"isActive": false}, admin).Expect(t, 200, "").Data(t, &u)
		if u.IsActive {
			t.Fatal("still active")
		}
		s.Do(t, "GET", "/api/auth/me", nil, fresh.AccessToken).Expect(t, 401, "UNAUTHORIZED")
		s.Do(t, "POST", "/api/auth/refresh", map[string]string{"refreshToken": fresh.RefreshToken}, "").Expect(t, 401, "UNAUTHORIZED")
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "patient@example.com", "password": goodPassword}, "").Expect(t, 403, "ACCOUNT_DISABLED")
		s.Do(t, "PATCH", "/api/admin/users/"+p.User.ID, map[string]any{"isActive": true}, admin).Expect(t, 200, "")
		login(t, s, "patient@example.com", goodPassword)
	})
}

func TestLoginLimits(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{"AURA_LIMITS_LOGIN_MAX_FAILURES": "3"}))
		register(t, s, "victim@example.com")
		for range 3 {
			s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "VICTIM@example.com", "password": "wrong-password-000"}, "").Expect(t, 401, "INVALID_CREDENTIALS")
		}
		r := s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "victim@example.com", "password": goodPassword}, "").Expect(t, 429, "RATE_LIMITED")
		if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("Retry-After %q", ra)
		}
	})
}

// TestLoginLimitSharedByInstances: two servers on one PostgreSQL enforce one limit.
func TestLoginLimitSharedByInstances(t *testing.T) {
	uri := testenv.PostgresURI(t)
	env := map[string]string{"AURA_LIMITS_LOGIN_MAX_FAILURES": "4"}
	s1 := testenv.Start(t, testenv.Config(t, uri, env))
	s2 := testenv.Start(t, testenv.Config(t, uri, env))
	register(t, s1, "shared@example.com")
	for i := range 4 {
		s := []*testenv.Server{s1, s2}[i%2]
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "shared@example.com", "password": "wrong-password-000"}, "").Expect(t, 401, "INVALID_CREDENTIALS")
	}
	for _, s := range []*testenv.Server{s1, s2} {
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "shared@example.com", "password": goodPassword}, "").Expect(t, 429, "RATE_LIMITED")
	}
}

// TestPerAddressLimit: many accounts tried from one address hit the address limit.
func TestPerAddressLimit(t *testing.T) {
	s := testenv.Start(t, testenv.Config(t, "sqlite://", map[string]string{"AURA_LIMITS_LOGIN_MAX_FAILURES": "5"}))
	register(t, s, "target@example.com")
	for i := range 5 {
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": fmt.Sprintf("spray%d@example.com", i), "password": "wrong-password-000"}, "").Expect(t, 401, "")
	}
	s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "target@example.com", "password": goodPassword}, "").Expect(t, 429, "RATE_LIMITED")
}

// TestBcryptUpgradedAtLogin: a hash of the first backend verifies and is
// replaced by argon2id at the first successful login.
func TestBcryptUpgradedAtLogin(t *testing.T) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		const legacy = "$2b$12$o5DPm4gKlckDRd0QuKRaU.ClnGMKnXubOnasz0K5qihRv.0iXY6h2" // bcrypt of "MinhPass12345"
		st := repositories.New(s.App.DB.WithContext(testenv.Ctx(t)))
		key := "minh.tran@example.com"
		u := &models.User{ID: "0b9a54c2-2a55-4f1e-9a39-4c5b7b8d1e01", Email: "Minh.Tran@Example.com", EmailNormalized: &key,
			PasswordHash: legacy, IsActive: true, CreatedAt: time.Now().UTC()}
		testenv.Must(t, st.Tx(func(tx *repositories.Store) error { return tx.Users.Create(u, models.RolePatient) }), "create")
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "minh.tran@example.com", "password": "wrong-password-000"}, "").Expect(t, 401, "INVALID_CREDENTIALS")
		login(t, s, "minh.tran@example.com", "MinhPass12345")
		got, err := st.Users.ByID(u.ID)
		testenv.Must(t, err, "reload")
		if !strings.HasPrefix(got.PasswordHash, "$argon2id$v=19$") {
			t.Fatalf("hash not upgraded: %s", got.PasswordHash[:10])
		}
		login(t, s, "minh.tran@example.com", "MinhPass12345")
	})
}
