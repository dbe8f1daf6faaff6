package security

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// ErrIDTokenInvalid wraps every reason an ID token is refused: malformed,
// signed by no key of the issuer, another issuer or audience, expired.
var ErrIDTokenInvalid = errors.New("invalid ID token")

// ErrIDTokenExpired is an ID token past its exp (it is also ErrIDTokenInvalid).
var ErrIDTokenExpired = fmt.Errorf("%w: expired", ErrIDTokenInvalid)

// ErrIssuerUnavailable is an issuer whose discovery document or keys could
// not be fetched: not the caller's fault, worth a retry.
var ErrIssuerUnavailable = errors.New("OpenID Connect issuer unavailable")

// Identity is what a verified ID token says about its person.
type Identity struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
}

// oidcTimeout bounds one fetch of the issuer's discovery document or keys.
const oidcTimeout = 5 * time.Second

// signingAlgs are the asymmetric algorithms an ID token may be signed with
// (never HS256 or none): those of the issuer's discovery document among
// these, RS256 when it names none.
var signingAlgs = map[string]bool{
	oidc.RS256: true, oidc.RS384: true, oidc.RS512: true, oidc.ES256: true, oidc.ES384: true,
	oidc.ES512: true, oidc.PS256: true, oidc.PS384: true, oidc.PS512: true, oidc.EdDSA: true,
}

// OIDCVerifier checks ID tokens of one OpenID Connect issuer for one client
// (audience) with github.com/coreos/go-oidc: the issuer is discovered from
// its /.well-known/openid-configuration on first use (and again after a
// failed discovery), its keys are fetched from its jwks_uri and cached, and
// fetched again when a token names a key id not in the cache (key rotation).
type OIDCVerifier struct {
	issuer, clientID string
	client           *http.Client

	mu    sync.Mutex
	keys  oidc.KeySet
	algs  []string
	ready bool
	// retryAt is when a failed discovery may be tried again: until then
	// sign-ins fail at once instead of each waiting out the timeout.
	retryAt time.Time
}

// discoveryBackoff is how long a failed discovery is not tried again.
const discoveryBackoff = 2 * time.Second

// NewOIDCVerifier verifies ID tokens of issuer whose aud holds clientID.
// Nothing is fetched until the first Verify, so a start does not depend on
// the issuer being reachable.
func NewOIDCVerifier(issuer, clientID string) *OIDCVerifier {
	return &OIDCVerifier{issuer: strings.TrimSuffix(issuer, "/"), clientID: clientID,
		client: &http.Client{Timeout: oidcTimeout}}
}

// discover fetches the issuer's discovery document once; a failure is
// ErrIssuerUnavailable and is retried by the next call.
func (v *OIDCVerifier) discover(ctx context.Context) (oidc.KeySet, []string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ready {
		return v.keys, v.algs, nil
	}
	if time.Now().Before(v.retryAt) {
		return nil, nil, fmt.Errorf("%w: discovery of %s failed moments ago", ErrIssuerUnavailable, v.issuer)
	}
	// Not the caller's cancellation: a client that hangs up must not leave
	// the others a failed discovery to wait out.
	dctx, cancel := context.WithTimeout(oidc.ClientContext(context.WithoutCancel(ctx), v.client), oidcTimeout)
	defer cancel()
	p, err := oidc.NewProvider(dctx, v.issuer)
	if err != nil {
		v.retryAt = time.Now().Add(discoveryBackoff)
		return nil, nil, fmt.Errorf("%w: discovery of %s: %v", ErrIssuerUnavailable, v.issuer, err)
	}
	var meta struct {
		JWKSURL string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURL == "" {
		v.retryAt = time.Now().Add(discoveryBackoff)
		return nil, nil, fmt.Errorf("%w: discovery of %s names no jwks_uri", ErrIssuerUnavailable, v.issuer)
	}
	var algs []string
	for _, a := range meta.Algs {
		if signingAlgs[a] {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{oidc.RS256}
	}
	// The key set's context carries only the HTTP client: go-oidc ignores
	// its cancellation and bounds each fetch by the caller's context.
	v.keys = &fetchAware{inner: oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), v.client), meta.JWKSURL)}
	v.algs, v.ready = algs, true
	return v.keys, v.algs, nil
}

// Verify checks rawIDToken (signature by a key of the issuer, iss, aud,
// exp at now, nbf) and returns its identity. Errors: ErrIDTokenInvalid
// (ErrIDTokenExpired among them) or ErrIssuerUnavailable.
func (v *OIDCVerifier) Verify(ctx context.Context, rawIDToken string, now time.Time) (*Identity, error) {
	keys, algs, err := v.discover(ctx)
	if err != nil {
		return nil, err
	}
	vctx, cancel := context.WithTimeout(ctx, oidcTimeout)
	defer cancel()
	verifier := oidc.NewVerifier(v.issuer, keys, &oidc.Config{ClientID: v.clientID, SupportedSigningAlgs: algs,
		Now: func() time.Time { return now }})
	ff := &fetchFailure{}
	tok, err := verifier.Verify(context.WithValue(vctx, fetchFailureKey{}, ff), rawIDToken)
	if err != nil {
		var expired *oidc.TokenExpiredError
		switch {
		case ff.failed:
			return nil, fmt.Errorf("%w: keys of %s: %v", ErrIssuerUnavailable, v.issuer, err)
		case errors.As(err, &expired):
			return nil, ErrIDTokenExpired
		}
		return nil, fmt.Errorf("%w: %v", ErrIDTokenInvalid, err)
	}
	// go-oidc wants clientID among the audiences; AURA wants it alone: a
	// token meant for several parties is not a sign-in to AURA.
	if len(tok.Audience) != 1 || tok.Audience[0] != v.clientID {
		return nil, fmt.Errorf("%w: audience %q is not exactly %q", ErrIDTokenInvalid, tok.Audience, v.clientID)
	}
	var c struct {
		Email         string          `json:"email"`
		EmailVerified json.RawMessage `json:"email_verified"`
		Name          string          `json:"name"`
		GivenName     string          `json:"given_name"`
		FamilyName    string          `json:"family_name"`
	}
	if err := tok.Claims(&c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrIDTokenInvalid, err)
	}
	name := strings.TrimSpace(c.Name)
	if name == "" {
		name = strings.TrimSpace(c.GivenName + " " + c.FamilyName)
	}
	// Google has sent email_verified as a boolean and, in old tokens, as
	// the string "true".
	verified := string(c.EmailVerified) == "true" || string(c.EmailVerified) == `"true"`
	return &Identity{Subject: tok.Subject, Email: strings.TrimSpace(c.Email), EmailVerified: verified, Name: name}, nil
}

// fetchFailure records, for one Verify, that the issuer's keys could not be
// fetched: go-oidc reports that as a signature failure (its message keeps
// the cause as text only), which would be a 401 for the issuer's outage.
type fetchFailure struct{ failed bool }

type fetchFailureKey struct{}

// fetchAware is the issuer's remote key set, noting a failed fetch in the
// fetchFailure of the call's context. go-oidc's RemoteKeySet wraps the cause
// of a failed fetch ("fetching keys %w") and nothing else, so an error that
// unwraps is a fetch that failed; "no key verifies" is a plain error.
type fetchAware struct{ inner oidc.KeySet }

func (f *fetchAware) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := f.inner.VerifySignature(ctx, jwt)
	if err != nil && errors.Unwrap(err) != nil {
		if ff, ok := ctx.Value(fetchFailureKey{}).(*fetchFailure); ok {
			ff.failed = true
		}
	}
	return payload, err
}
