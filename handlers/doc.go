// Package handlers holds AURA's Gin handlers: strict binding and validation of
// input, calls into repositories (on the request's session or a transaction
// begun from it), and one mapper from errors to the API envelope. It never
// calls GORM's query API.
package handlers
