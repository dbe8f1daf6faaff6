package security

import (
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the access token's claims. UserID repeats sub for the first
// backend's clients; Sid ties the token to its server-side session.
type Claims struct {
	Email  string   `json:"email"`
	Roles  []string `json:"roles"`
	UserID string   `json:"user_id"`
	Sid    string   `json:"sid"`
	jwt.RegisteredClaims
}

// ErrBadToken is returned for any access token that does not verify.
var ErrBadToken = errors.New("invalid access token")

// JWT issues and verifies HS256 access tokens.
type JWT struct {
	secret []byte
	ttl    time.Duration
	parser *jwt.Parser
}

// NewJWT returns a JWT codec with the given secret and lifetime.
func NewJWT(secret string, ttl time.Duration) *JWT {
	return &JWT{
		secret: []byte(secret),
		ttl:    ttl,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
		),
	}
}

// TTL is the access-token lifetime.
func (j *JWT) TTL() time.Duration { return j.ttl }

// Issue signs a token for the user and session.
func (j *JWT) Issue(userID, email, sessionID string, roles []string, now time.Time) (string, error) {
	c := Claims{
		Email: email, Roles: roles, UserID: userID, Sid: sessionID,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(j.ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(j.secret)
}

// Verify checks algorithm, signature, expiry and required claims.
func (j *JWT) Verify(token string) (*Claims, error) {
	var c Claims
	_, err := j.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return j.secret, nil })
	if err != nil || c.Subject == "" || c.Sid == "" {
		return nil, ErrBadToken
	}
	return &c, nil
}
