// Package security holds AURA's credentials work: argon2id password hashing
// (with bcrypt hashes of the first backend still verifying), the password
// policy, HS256 access tokens, and opaque random tokens stored only as hashes.
package security
