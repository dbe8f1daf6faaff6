package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Engines AURA speaks to.
const (
	EngineSQLite   = "sqlite"
	EnginePostgres = "postgres"
)

// AcceptedURIs is shown whenever a database setting is refused.
const AcceptedURIs = "accepted: sqlite:///relative.db, sqlite:////absolute/path.db, sqlite:///:memory:, sqlite://, " +
	"postgresql://user:pass@host:5432/db?sslmode=disable, postgres://..., postgresql+psycopg2://..."

// DSN is a parsed database location.
type DSN struct {
	// Engine is EngineSQLite or EnginePostgres.
	Engine string
	// Path is the SQLite file ("" when Memory).
	Path string
	// Memory is true for an in-memory SQLite database.
	Memory bool
	// URL is the PostgreSQL connection URL, password included: never log it, use Redacted.
	URL string
}

// Redacted is the DSN for logs and messages: the password replaced by xxxxx.
func (d DSN) Redacted() string {
	switch {
	case d.Engine == EngineSQLite && d.Memory:
		return "sqlite://:memory:"
	case d.Engine == EngineSQLite:
		return "sqlite:///" + d.Path
	}
	return RedactURI(d.URL)
}

// RedactURI hides the password of any URI-looking string; unparsable input is
// hidden entirely, since it may hold a password in a place we cannot find.
func RedactURI(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparsable URI>"
	}
	return u.Redacted()
}

// ParseURI understands every URI form of the contract.
func ParseURI(raw string) (DSN, error) {
	raw = strings.TrimSpace(raw)
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return DSN{}, fmt.Errorf("not a URI (no scheme://)")
	}
	base, _, _ := strings.Cut(strings.ToLower(scheme), "+") // postgresql+psycopg2 -> postgresql
	switch base {
	case "sqlite", "sqlite3":
		// sqlite:// + "/" + path: sqlite:///rel.db -> rel.db, sqlite:////abs.db -> /abs.db
		path, _, _ := strings.Cut(rest, "?")
		if path == "" || path == "/" || path == "/:memory:" {
			return DSN{Engine: EngineSQLite, Memory: true}, nil
		}
		if !strings.HasPrefix(path, "/") {
			return DSN{}, fmt.Errorf("sqlite URI needs three slashes before a relative path")
		}
		return DSN{Engine: EngineSQLite, Path: path[1:]}, nil
	case "postgresql", "postgres":
		u, err := url.Parse("postgres://" + rest)
		if err != nil {
			return DSN{}, fmt.Errorf("malformed postgresql URI")
		}
		if u.Hostname() == "" {
			return DSN{}, fmt.Errorf("postgresql URI has no host")
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return DSN{}, fmt.Errorf("postgresql URI has a bad port")
			}
		}
		if strings.Trim(u.Path, "/") == "" {
			return DSN{}, fmt.Errorf("postgresql URI names no database")
		}
		return DSN{Engine: EnginePostgres, URL: u.String()}, nil
	}
	return DSN{}, fmt.Errorf("unsupported scheme %q", scheme)
}

// fieldsDSN builds a DSN from database.engine, .host, .port, .name, .user, .password, .sslmode.
func fieldsDSN(d DatabaseConfig) (DSN, error) {
	switch strings.ToLower(strings.TrimSpace(d.Engine)) {
	case "sqlite", "sqlite3", "":
		name := d.Name
		if name == "" || name == ":memory:" {
			return DSN{Engine: EngineSQLite, Memory: true}, nil
		}
		return DSN{Engine: EngineSQLite, Path: name}, nil
	case "postgresql", "postgres":
		if d.Host == "" {
			return DSN{}, fmt.Errorf("database.host (DB_HOST) is required for postgresql")
		}
		if d.Name == "" {
			return DSN{}, fmt.Errorf("database.name (DB_NAME) is required for postgresql")
		}
		port := d.Port
		if port == 0 {
			port = 5432
		}
		if port < 1 || port > 65535 {
			return DSN{}, fmt.Errorf("database.port (DB_PORT) must be 1-65535")
		}
		u := url.URL{Scheme: "postgres", Host: fmt.Sprintf("%s:%d", d.Host, port), Path: "/" + d.Name}
		if d.User != "" {
			if d.Password != "" {
				u.User = url.UserPassword(d.User, d.Password)
			} else {
				u.User = url.User(d.User)
			}
		}
		if d.SSLMode != "" {
			u.RawQuery = url.Values{"sslmode": {d.SSLMode}}.Encode()
		}
		return DSN{Engine: EnginePostgres, URL: u.String()}, nil
	}
	return DSN{}, fmt.Errorf("database.engine (DB_ENGINE): unknown engine %q; accepted: sqlite, postgresql, postgres", d.Engine)
}
