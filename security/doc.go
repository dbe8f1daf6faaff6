// Package security holds AURA's credentials work: argon2id password hashing
// (with bcrypt hashes of the first backend still verifying), the password
// policy, HS256 access tokens, opaque random tokens stored only as hashes, and
// the verification of OpenID Connect ID tokens (Google sign-in, with go-oidc).
package security
