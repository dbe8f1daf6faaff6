package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// loadFile loads a directory holding config.yaml with body, and env.
func loadFile(t *testing.T, body string, env map[string]string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return load(t, dir, env)
}

// TestUnknownFileKeys: a key config.yaml has and Config has not stops the
// start, naming the first unknown part and, when close, the key meant.
func TestUnknownFileKeys(t *testing.T) {
	cases := []struct{ body, want string }{
		{"databse:\n  uri: postgresql://aura:hunter2@db:5432/aura\n",
			`config.yaml: unknown key "databse"; did you mean "database"?`},
		{"database:\n  pol:\n    max_open_conns: 3\n",
			`config.yaml: unknown key "database.pol"; did you mean "database.pool"?`},
		{"database:\n  pool:\n    max_open_con: 3\n",
			`config.yaml: unknown key "database.pool.max_open_con"; did you mean "database.pool.max_open_conns"?`},
		{"evn: production\n", `config.yaml: unknown key "evn"; did you mean "env"?`},
		{"auto_migrate: false\n", `config.yaml: unknown key "auto_migrate"; did you mean "database.auto_migrate"?`},
		{"mail:\n  smtp:\n    hots: relay\n", `config.yaml: unknown key "mail.smtp.hots"; did you mean "mail.smtp.host"?`},
		{"colour: blue\n", `config.yaml: unknown key "colour"`},
		{"server:\n  addr: ':1'\n  tls:\n    cert: x\n", `config.yaml: unknown key "server.tls"`},
		{"database: sqlite\n", `config.yaml: "database" holds keys (auto_migrate, connect_timeout, engine, host, name, password, pool, port, query_timeout, sslmode, uri, user), not a value`},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			_, err := loadFile(t, c.body, nil)
			if err == nil || err.Error() != c.want {
				t.Fatalf("got %v\nwant %s", err, c.want)
			}
		})
	}
	// --config names the file it reads in the message.
	other := filepath.Join(t.TempDir(), "prod.yaml")
	if err := os.WriteFile(other, []byte("databse:\n  uri: sqlite:///x.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := load(t, "", nil, "--config", other); err == nil || !strings.HasPrefix(err.Error(), other+`: unknown key "databse"`) {
		t.Fatalf("--config: %v", err)
	}
	// Sections left empty (every key commented out) and keys in capitals are fine.
	cfg, err := loadFile(t, "Database:\n  Engine: sqlite\n  pool:\nmail:\n", nil)
	if err != nil || cfg.Database.DSN.Engine != EngineSQLite {
		t.Fatalf("empty sections: %v", err)
	}
}

// TestShippedConfig: the repository's config.yaml has only known keys.
func TestShippedConfig(t *testing.T) {
	if _, err := load(t, "..", map[string]string{}); err != nil {
		t.Fatal(err)
	}
}

// TestUnknownEnvNames: an AURA_* variable no setting reads stops the start;
// AURA_TEST_* and names without the prefix are not ours to judge.
func TestUnknownEnvNames(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"AURA_DATABSE_URI": "postgresql://u:hunter2@db/aura"},
			"environment: unknown variable AURA_DATABSE_URI; did you mean AURA_DATABASE_URI?"},
		{map[string]string{"AURA_MAIL_DRIVR": "smtp"}, "environment: unknown variable AURA_MAIL_DRIVR; did you mean AURA_MAIL_DRIVER?"},
		{map[string]string{"AURA_DB_PASSWORD": "hunter2"}, "environment: unknown variable AURA_DB_PASSWORD; did you mean AURA_DATABASE_PASSWORD?"},
		{map[string]string{"AURA_SECRET_KEY": "hunter2"}, "environment: unknown variable AURA_SECRET_KEY; did you mean AURA_AUTH_JWT_SECRET?"},
		{map[string]string{"AURA_COLOUR": "blue"}, "environment: unknown variable AURA_COLOUR"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			_, err := load(t, "", c.env)
			if err == nil || err.Error() != c.want {
				t.Fatalf("got %v\nwant %s", err, c.want)
			}
		})
	}
	cfg, err := load(t, "", map[string]string{
		"AURA_TEST_POSTGRES_URI": "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		"AURA_TEST_ANYTHING":     "x",
		"DATABSE_URI":            "not ours",
		"AURA_DATABASE_URI":      "sqlite:///aura-env.db",
		"DATABASE_URI":           "sqlite:///legacy.db",
	})
	if err != nil || cfg.Database.DSN.Path != "aura-env.db" {
		t.Fatalf("known and ignored names: %v", err)
	}

	// .env is checked the same way.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("AURA_SERVER_ADR=:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := load(t, dir, nil); err == nil || err.Error() != ".env: unknown variable AURA_SERVER_ADR; did you mean AURA_SERVER_ADDR?" {
		t.Fatalf(".env: %v", err)
	}
}

// TestValueForms: a value of the wrong form names its setting and says
// which form is accepted, whichever source gave it.
func TestValueForms(t *testing.T) {
	cases := []struct {
		body string
		env  map[string]string
		want string
	}{
		{"auth:\n  access_ttl: 15 minutes\n", nil,
			`auth.access_ttl (AURA_AUTH_ACCESS_TTL): "15 minutes" is not a duration; use a Go duration such as 15m or 1h30m`},
		{"auth:\n  access_ttl: 900\n", nil,
			`auth.access_ttl (AURA_AUTH_ACCESS_TTL): 900 is not a duration; use a Go duration such as 15m or 1h30m`},
		{"", map[string]string{"AURA_DATABASE_POOL_CONN_MAX_LIFETIME": "1 hour"},
			`database.pool.conn_max_lifetime (AURA_DATABASE_POOL_CONN_MAX_LIFETIME): "1 hour" is not a duration; use a Go duration such as 15m or 1h30m`},
		{"", map[string]string{"AURA_SERVER_MAX_BODY_BYTES": "64k"},
			`server.max_body_bytes (AURA_SERVER_MAX_BODY_BYTES): "64k" is not an integer; use a whole number such as 10`},
		{"database:\n  pool:\n    max_open_conns: 2.5\n", nil,
			`database.pool.max_open_conns (AURA_DATABASE_POOL_MAX_OPEN_CONNS): 2.5 is not an integer; use a whole number such as 10`},
		{"auth:\n  argon2:\n    threads: 300\n", nil,
			`auth.argon2.threads (AURA_AUTH_ARGON2_THREADS): 300 is out of range; use a whole number from 0 to 255`},
		{"", map[string]string{"SMTP_PORT": "smtp"},
			`mail.smtp.port (SMTP_PORT): "smtp" is not an integer; use a whole number such as 10`},
		{"database:\n  port: five\n", nil,
			`database.port (DB_PORT): "five" is not an integer; use a whole number such as 10`},
		{"", map[string]string{"AURA_DATABASE_AUTO_MIGRATE": "yes"},
			`database.auto_migrate (AURA_DATABASE_AUTO_MIGRATE): "yes" is not a boolean; use true or false`},
		{"mail:\n  smtp:\n    starttls: 1\n", nil,
			`mail.smtp.starttls (SMTP_STARTTLS): 1 is not a boolean; use true or false`},
		{"server:\n  addr:\n    host: x\n", nil,
			`server.addr (AURA_SERVER_ADDR): a section is not a single value; use text`},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			_, err := loadFile(t, c.body, c.env)
			if err == nil || err.Error() != c.want {
				t.Fatalf("got %v\nwant %s", err, c.want)
			}
		})
	}
	// The accepted forms, from the file and from the environment.
	_, err := loadFile(t, "auth:\n  access_ttl: 1h30m\n  argon2:\n    threads: 4\ndatabase:\n  auto_migrate: false\n  query_timeout: 0\n",
		map[string]string{"SMTP_STARTTLS": "FALSE", "AURA_SERVER_MAX_BODY_BYTES": "1024", "AURA_DATABASE_POOL_CONN_MAX_IDLE_TIME": "90s"})
	if err == nil || !strings.Contains(err.Error(), "database.query_timeout: must be positive") {
		t.Fatalf("query_timeout 0 should reach validation: %v", err)
	}
	cfg, err := loadFile(t, "auth:\n  access_ttl: 1h30m\n  argon2:\n    threads: 4\ndatabase:\n  auto_migrate: false\n",
		map[string]string{"SMTP_STARTTLS": "FALSE", "AURA_SERVER_MAX_BODY_BYTES": "1024", "AURA_DATABASE_POOL_CONN_MAX_IDLE_TIME": "90s"})
	if err != nil || cfg.Auth.AccessTTL != 90*time.Minute || cfg.Auth.Argon2.Threads != 4 || cfg.Database.AutoMigrate ||
		cfg.Mail.SMTP.StartTLS || cfg.Server.MaxBodyBytes != 1024 || *cfg.Database.Pool.ConnMaxIdleTime != 90*time.Second {
		t.Fatalf("accepted forms: %+v %v", cfg, err)
	}
}

// TestKeysFollowConfig: the known keys are Config's, read by reflection, so
// a section added to Config is known in the file and the environment with
// no list to edit; the hand-kept tables name only known keys.
func TestKeysFollowConfig(t *testing.T) {
	type register struct {
		Max int `mapstructure:"max"`
	}
	type limits struct {
		LimitsConfig `mapstructure:",squash"`
		Register     register `mapstructure:"register"`
	}
	type housekeeping struct {
		Every  time.Duration     `mapstructure:"every"`
		Labels map[string]string `mapstructure:"labels"`
	}
	type grown struct {
		Config       `mapstructure:",squash"`
		Limits       limits       `mapstructure:"limits"`
		Housekeeping housekeeping `mapstructure:"housekeeping"`
	}
	k := newKeySet(reflect.TypeOf(grown{}))
	for _, key := range []string{"limits.register.max", "limits.login.max_failures", "housekeeping.every", "database.pool.busy_timeout", "env"} {
		if _, ok := k.leaves[key]; !ok {
			t.Errorf("%s not known", key)
		}
	}
	if err := k.checkFileKeys("config.yaml", []string{"limits.register.max", "housekeeping.every", "housekeeping.labels.any"}, func(string) any { return 1 }); err != nil {
		t.Errorf("new keys refused: %v", err)
	}
	if err := k.checkFileKeys("config.yaml", []string{"limits.registr.max"}, func(string) any { return 1 }); err == nil ||
		err.Error() != `config.yaml: unknown key "limits.registr"; did you mean "limits.register"?` {
		t.Errorf("typo in a new section: %v", err)
	}
	if err := k.checkEnvNames("environment", []string{"AURA_LIMITS_REGISTER_MAX", "AURA_HOUSEKEEPING_EVERY"}); err != nil {
		t.Errorf("new variables refused: %v", err)
	}
	if err := k.checkEnvNames("environment", []string{"AURA_HOUSEKEEPING_EVRY"}); err == nil || !strings.Contains(err.Error(), "did you mean AURA_HOUSEKEEPING_EVERY?") {
		t.Errorf("typo in a new variable: %v", err)
	}
	if _, ok := k.leaves["generatedsecret"]; ok {
		t.Error(`mapstructure:"-" fields are not settings`)
	}

	cfgKeys := knownKeys()
	for key := range defaults {
		if _, ok := cfgKeys.leaves[key]; !ok {
			t.Errorf("defaults has %q, which Config has not", key)
		}
	}
	for key := range aliases {
		if _, ok := cfgKeys.leaves[key]; !ok {
			t.Errorf("aliases has %q, which Config has not", key)
		}
	}
	for _, key := range flagKeys {
		if _, ok := cfgKeys.leaves[key]; !ok {
			t.Errorf("flagKeys has %q, which Config has not", key)
		}
	}
}
