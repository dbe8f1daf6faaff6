// Package tests holds AURA's end-to-end tests: a real server on a loopback
// port, driven over HTTP, on every database engine (see internal/testenv).
package tests
