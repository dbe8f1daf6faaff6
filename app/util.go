// Package app is AURA's composition root: it opens the database with the pool
// of its engine, migrates, wires repositories and handlers into a Gin engine,
// and runs the HTTP server with a graceful stop.
package app

import "strings"

func replaceAll(s, old, repl string) string {
	if old == "" {
		return s
	}
	return strings.ReplaceAll(s, old, repl)
}
