package tests

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"aura/internal/testenv"
	"aura/mail/mailtest"
)

// googleClientID is the audience the tests' AURA expects.
const googleClientID = "aura-test.apps.googleusercontent.com"

// oidcIssuer is an OpenID Connect provider the tests run in-process: its
// discovery document and key set (JWKS) over HTTP, and ID tokens signed with
// an RSA key made for the test.
type oidcIssuer struct {
	srv      *httptest.Server
	key      *rsa.PrivateKey
	kid      string
	keyFetch atomic.Int32
}

func newOIDCIssuer(t *testing.T) *oidcIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	testenv.Must(t, err, "rsa key")
	o := &oidcIssuer{key: key, kid: "test-key-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": o.srv.URL, "jwks_uri": o.srv.URL + "/certs",
			"authorization_endpoint": o.srv.URL + "/auth", "token_endpoint": o.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
		})
	})
	mux.HandleFunc("/certs", func(w http.ResponseWriter, r *http.Request) {
		o.keyFetch.Add(1)
		pub := o.key.PublicKey
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": o.kid,
			"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		}}})
	})
	o.srv = httptest.NewServer(mux)
	t.Cleanup(o.srv.Close)
	return o
}

// claims are a valid ID token's claims for email; change them to spoil it.
func (o *oidcIssuer) claims(email, name string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": o.srv.URL, "aud": googleClientID, "sub": "g-" + email, "email": email, "email_verified": true,
		"name": name, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// sign signs c with key under kid (the issuer's own when nil / "").
func (o *oidcIssuer) sign(t *testing.T, c jwt.MapClaims, key *rsa.PrivateKey, kid string) string {
	t.Helper()
	if key == nil {
		key = o.key
	}
	if kid == "" {
		kid = o.kid
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	testenv.Must(t, err, "sign ID token")
	return s
}

func (o *oidcIssuer) token(t *testing.T, email, name string) string {
	return o.sign(t, o.claims(email, name), nil, "")
}

// googleEnv turns Google sign-in on against issuer.
func googleEnv(issuer string, more map[string]string) map[string]string {
	env := map[string]string{"AURA_AUTH_GOOGLE_CLIENT_ID": googleClientID, "AURA_AUTH_GOOGLE_ISSUER": issuer}
	for k, v := range more {
		env[k] = v
	}
	return env
}

func google(t *testing.T, s *testenv.Server, idToken string) *testenv.Response {
	t.Helper()
	return s.Do(t, "POST", "/api/auth/google", map[string]any{"idToken": idToken}, "")
}

// TestGoogleSignIn: a verified Google identity signs in to the account of
// its email when that email is verified, makes a PATIENT account when there
// is none, and is refused an unverified account (409), so nobody takes over
// an account by registering its address first. Every refusal of the token
// is a 401 that says why.
func TestGoogleSignIn(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		o := newOIDCIssuer(t)
		// Many refused tokens below, all from 127.0.0.1: TestGoogleSignInLimits has the limit.
		s := testenv.Start(t, testenv.Config(t, e.URI(t), googleEnv(o.srv.URL, map[string]string{"AURA_LIMITS_LOGIN_MAX_FAILURES": "100"})))

		// None: a new PATIENT, email verified, named from the token, no password.
		var first session
		google(t, s, o.token(t, "Lan.Nguyen@Example.com", "Nguyễn Thị Lan")).Expect(t, http.StatusOK, "").Data(t, &first)
		u := first.User
		if u.Email != "Lan.Nguyen@Example.com" || u.FullName != "Nguyễn Thị Lan" || !u.EmailVerified || !u.IsActive ||
			len(first.Roles) != 1 || first.Roles[0].Name != "PATIENT" || first.TokenType != "Bearer" || first.AccessToken == "" ||
			first.RefreshToken == "" || u.Avatar != "/api/users/"+u.ID+"/avatar.svg" {
			t.Fatalf("new Google account: %+v", first)
		}
		var me struct {
			ID string `json:"id"`
		}
		s.Do(t, "GET", "/api/auth/me", nil, first.AccessToken).Expect(t, http.StatusOK, "").Data(t, &me)
		if me.ID != u.ID {
			t.Fatalf("me %s, want %s", me.ID, u.ID)
		}
		// No password works for it; a reset link sets one (docs/api.md).
		for _, pw := range []string{"!no-password", goodPassword} {
			s.Do(t, "POST", "/api/auth/login", map[string]any{"email": u.Email, "password": pw}, "").
				Expect(t, http.StatusUnauthorized, "INVALID_CREDENTIALS")
		}
		// Again: the same account, a new session.
		var again session
		google(t, s, o.token(t, "lan.nguyen@example.com", "Someone Else")).Expect(t, http.StatusOK, "").Data(t, &again)
		if again.User.ID != u.ID || again.User.FullName != "Nguyễn Thị Lan" || again.RefreshToken == first.RefreshToken {
			t.Fatalf("second sign-in: %+v", again)
		}

		// An account of that email whose email is verified: signed in, and
		// the body has login's fields exactly.
		reg := register(t, s, "minh@example.com")
		testenv.Must(t, s.App.DB.Exec("UPDATE users SET email_verified = ? WHERE id = ?", true, reg.User.ID).Error, "verify")
		g := google(t, s, o.token(t, "MINH@example.com", "Trần Văn Minh")).Expect(t, http.StatusOK, "")
		l := s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "minh@example.com", "password": goodPassword}, "").
			Expect(t, http.StatusOK, "")
		var gs, ls session
		g.Data(t, &gs)
		l.Data(t, &ls)
		if gs.User.ID != reg.User.ID || gs.User.FullName != ls.User.FullName || len(gs.Roles) != len(ls.Roles) ||
			keysOf(t, g.Env.Data) != keysOf(t, l.Env.Data) || g.Env.Message != l.Env.Message {
			t.Fatalf("Google %s\nlogin %s", g.Body, l.Body)
		}

		// An account whose email is not verified: 409, nothing changes.
		unverified := register(t, s, "hoa@example.com")
		r := google(t, s, o.token(t, "hoa@example.com", "Lê Thị Hoa")).Expect(t, http.StatusConflict, "CONFLICT")
		if !strings.Contains(r.Env.Error, "not verified") {
			t.Fatalf("409 says: %s", r.Body)
		}
		s.Do(t, "POST", "/api/auth/login", map[string]any{"email": "hoa@example.com", "password": goodPassword}, "").
			Expect(t, http.StatusOK, "")
		if unverified.User.EmailVerified {
			t.Fatal("registered account verified")
		}

		// An inactive account: as login answers.
		admin := makeAdmin(t, s, "admin@example.com")
		s.Do(t, "PATCH", "/api/admin/users/"+reg.User.ID, map[string]any{"isActive": false}, admin).Expect(t, http.StatusOK, "")
		google(t, s, o.token(t, "minh@example.com", "")).Expect(t, http.StatusForbidden, "ACCOUNT_DISABLED")

		// Tokens refused, each saying why.
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		testenv.Must(t, err, "other key")
		wrongAud := o.claims("x@example.com", "X")
		wrongAud["aud"] = "someone-else.apps.googleusercontent.com"
		expired := o.claims("x@example.com", "X")
		expired["iat"], expired["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
		unverifiedEmail := o.claims("x@example.com", "X")
		unverifiedEmail["email_verified"] = false
		twoAuds := o.claims("x@example.com", "X")
		twoAuds["aud"] = []string{googleClientID, "someone-else"}
		wrongIss := o.claims("x@example.com", "X")
		wrongIss["iss"] = "https://accounts.google.com"
		for _, c := range []struct {
			name, token, says string
		}{
			{"wrong aud", o.sign(t, wrongAud, nil, ""), "not valid"},
			{"wrong iss", o.sign(t, wrongIss, nil, ""), "not valid"},
			{"aud of two parties", o.sign(t, twoAuds, nil, ""), "not valid"},
			{"expired", o.sign(t, expired, nil, ""), "expired"},
			{"bad signature", o.sign(t, o.claims("x@example.com", "X"), other, ""), "not valid"},
			{"unknown key id", o.sign(t, o.claims("x@example.com", "X"), other, "rotated-away"), "not valid"},
			{"email not verified", o.sign(t, unverifiedEmail, nil, ""), "not verified"},
			{"not a JWT", "not.a.jwt", "not valid"},
			{"HS256", hs256(t, o.claims("x@example.com", "X")), "not valid"},
		} {
			r := google(t, s, c.token).Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
			if !strings.Contains(r.Env.Error, c.says) {
				t.Errorf("%s: %s", c.name, r.Body)
			}
		}
		google(t, s, "").Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		// No account was made by a refused token.
		var n int64
		testenv.Must(t, s.App.DB.Raw("SELECT COUNT(*) FROM users WHERE email_normalized = ?", "x@example.com").Scan(&n).Error, "count")
		if n != 0 {
			t.Fatalf("%d accounts for a refused token", n)
		}
	})
}

// keysOf lists the keys of a JSON object and of its "user" object.
func keysOf(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var m map[string]json.RawMessage
	testenv.Must(t, json.Unmarshal(raw, &m), "decode %s", raw)
	var user map[string]json.RawMessage
	_ = json.Unmarshal(m["user"], &user)
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for k := range user {
		out = append(out, "user."+k)
	}
	sortStrings(out)
	return strings.Join(out, ",")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// hs256 is a token signed with a shared secret: never accepted as an ID token.
func hs256(t *testing.T, c jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	tok.Header["kid"] = "test-key-1"
	s, err := tok.SignedString([]byte("secret"))
	testenv.Must(t, err, "sign HS256")
	return s
}

// TestGoogleSignInIssuerDown: an issuer that cannot be reached (before
// discovery, and later for its keys) is 503 UNAVAILABLE, not a 500 nor a
// 401, and costs the caller no login attempt.
func TestGoogleSignInIssuerDown(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		// Never reachable: discovery fails.
		down := newOIDCIssuer(t)
		tok := down.token(t, "lan@example.com", "Lan")
		down.srv.Close()
		s := testenv.Start(t, testenv.Config(t, e.URI(t), googleEnv(down.srv.URL, map[string]string{"AURA_LIMITS_LOGIN_MAX_FAILURES": "2"})))
		for range 3 {
			google(t, s, tok).Expect(t, http.StatusServiceUnavailable, "UNAVAILABLE")
		}

		// Discovered, then down when a token names a key not cached.
		o := newOIDCIssuer(t)
		s2 := testenv.Start(t, testenv.Config(t, e.URI(t), googleEnv(o.srv.URL, nil)))
		google(t, s2, o.token(t, "lan@example.com", "Lan")).Expect(t, http.StatusOK, "")
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		testenv.Must(t, err, "other key")
		rotated := o.sign(t, o.claims("lan@example.com", "Lan"), other, "new-key")
		o.srv.Close()
		google(t, s2, rotated).Expect(t, http.StatusServiceUnavailable, "UNAVAILABLE")
		// A token of the cached key still verifies without the issuer.
		google(t, s2, o.token(t, "lan@example.com", "Lan")).Expect(t, http.StatusOK, "")
	})
}

// TestGoogleSignInOff: without auth.google.client_id the endpoint answers
// as an unknown path does.
func TestGoogleSignInOff(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		r := google(t, s, "anything").Expect(t, http.StatusNotFound, "NOT_FOUND")
		u := s.Do(t, "POST", "/api/auth/nowhere", map[string]any{"idToken": "anything"}, "").Expect(t, http.StatusNotFound, "NOT_FOUND")
		if r.Env.Error != u.Env.Error {
			t.Fatalf("off: %s; unknown path: %s", r.Body, u.Body)
		}
	})
}

// TestGoogleSignInLimits: refused tokens use up the client address's login
// limit (429 after limits.login.max_failures), and a right token is refused
// too while the address is blocked, as a right password is.
func TestGoogleSignInLimits(t *testing.T) {
	t.Parallel()
	o := newOIDCIssuer(t)
	s := testenv.Start(t, testenv.Config(t, "sqlite://", googleEnv(o.srv.URL, map[string]string{"AURA_LIMITS_LOGIN_MAX_FAILURES": "3"})))
	good := o.token(t, "lan@example.com", "Lan")
	for range 5 {
		google(t, s, good).Expect(t, http.StatusOK, "") // successes take no slot
	}
	bad := o.claims("lan@example.com", "Lan")
	bad["aud"] = "other"
	for range 3 {
		google(t, s, o.sign(t, bad, nil, "")).Expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
	}
	r := google(t, s, good).Expect(t, http.StatusTooManyRequests, "RATE_LIMITED")
	if r.Header.Get("Retry-After") == "" {
		t.Fatalf("no Retry-After: %v", r.Header)
	}
}

// TestGoogleAccountSetsAPassword: an account made by Google sign-in has no
// password; forgot-password and its link set one, and then both ways sign in.
func TestGoogleAccountSetsAPassword(t *testing.T) {
	t.Parallel()
	o := newOIDCIssuer(t)
	smtp := mailtest.Start(t, mailtest.Options{})
	s := startWithMail(t, "sqlite://", smtp, googleEnv(o.srv.URL, nil))
	const addr = "binh.google@example.com"
	var g session
	google(t, s, o.token(t, addr, "Phạm Văn Bình")).Expect(t, http.StatusOK, "").Data(t, &g)
	s.Do(t, "POST", "/api/auth/forgot-password", map[string]any{"email": addr}, "").Expect(t, http.StatusOK, "")
	tok := mailtest.Token(t, smtp.WaitTo(t, addr, 1)[0], "/reset-password")
	const pw = "copper-meadow-whistle-48"
	s.Do(t, "POST", "/api/auth/reset-password", map[string]any{"token": tok, "newPassword": pw, "confirmPassword": pw}, "").
		Expect(t, http.StatusOK, "")
	var l session
	s.Do(t, "POST", "/api/auth/login", map[string]any{"email": addr, "password": pw}, "").Expect(t, http.StatusOK, "").Data(t, &l)
	if l.User.ID != g.User.ID {
		t.Fatalf("login %s, Google %s", l.User.ID, g.User.ID)
	}
	google(t, s, o.token(t, addr, "")).Expect(t, http.StatusOK, "")
}
