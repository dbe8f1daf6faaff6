package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func load(t *testing.T, dir string, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("aura", pflag.ContinueOnError)
	Flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if dir == "" {
		dir = t.TempDir()
	}
	return Load(Options{Flags: fs, Dir: dir, Getenv: func(k string) string { return env[k] }, Environ: func() []string {
		var kv []string
		for k, v := range env {
			kv = append(kv, k+"="+v)
		}
		return kv
	}})
}

func TestURIForms(t *testing.T) {
	cases := []struct {
		uri, engine, path string
		memory            bool
		url               string
	}{
		{uri: "sqlite:///relative.db", engine: EngineSQLite, path: "relative.db"},
		{uri: "sqlite:///data/dir/aura.db", engine: EngineSQLite, path: "data/dir/aura.db"},
		{uri: "sqlite:////absolute/path.db", engine: EngineSQLite, path: "/absolute/path.db"},
		{uri: "sqlite:///:memory:", engine: EngineSQLite, memory: true},
		{uri: "sqlite://", engine: EngineSQLite, memory: true},
		{uri: "postgresql://user:pass@host:5432/db?sslmode=disable", engine: EnginePostgres, url: "postgres://user:pass@host:5432/db?sslmode=disable"},
		{uri: "postgres://user:pass@host/db", engine: EnginePostgres, url: "postgres://user:pass@host/db"},
		{uri: "postgresql+psycopg2://u:p%40ss@db.example:6432/aura", engine: EnginePostgres, url: "postgres://u:p%40ss@db.example:6432/aura"},
		{uri: "  postgresql://u@h/d  ", engine: EnginePostgres, url: "postgres://u@h/d"},
	}
	for _, c := range cases {
		t.Run(c.uri, func(t *testing.T) {
			cfg, err := load(t, "", map[string]string{"DATABASE_URI": c.uri})
			if err != nil {
				t.Fatal(err)
			}
			d := cfg.Database.DSN
			if d.Engine != c.engine || d.Path != c.path || d.Memory != c.memory || d.URL != c.url {
				t.Fatalf("got %+v", d)
			}
		})
	}
}

func TestFields(t *testing.T) {
	cfg, err := load(t, "", map[string]string{"DB_ENGINE": "postgresql", "DB_HOST": "db", "DB_PORT": "6543",
		"DB_NAME": "aura", "DB_USER": "clinic", "DB_PASSWORD": "s3cr/t@x", "DB_SSLMODE": "require"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Database.DSN.URL, "postgres://clinic:s3cr%2Ft%40x@db:6543/aura?sslmode=require"; got != want {
		t.Fatalf("url %q, want %q", got, want)
	}
	if strings.Contains(cfg.Database.DSN.Redacted(), "s3cr") {
		t.Fatalf("redacted DSN shows the password: %s", cfg.Database.DSN.Redacted())
	}
	// DATABASE_URI wins over the fields.
	cfg, err = load(t, "", map[string]string{"DB_ENGINE": "postgres", "DB_HOST": "db", "DB_NAME": "x", "DATABASE_URI": "sqlite:///won.db"})
	if err != nil || cfg.Database.DSN.Path != "won.db" {
		t.Fatalf("uri should win: %+v %v", cfg, err)
	}
	// Default: a SQLite file.
	cfg, err = load(t, "", nil)
	if err != nil || cfg.Database.DSN.Engine != EngineSQLite || cfg.Database.DSN.Path != "aura.db" || !cfg.Database.AutoMigrate {
		t.Fatalf("defaults: %+v %v", cfg.Database, err)
	}
}

func TestBadConfigurations(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		mention string
	}{
		{"unknown scheme", map[string]string{"DATABASE_URI": "mysql://u:hunter2@h/db"}, "database.uri (DATABASE_URI)"},
		{"no scheme", map[string]string{"DATABASE_URI": "just-a-file.db"}, "database.uri (DATABASE_URI)"},
		{"pg without host", map[string]string{"DATABASE_URI": "postgresql://u:hunter2@/db"}, "database.uri (DATABASE_URI)"},
		{"pg without db", map[string]string{"DATABASE_URI": "postgresql://u:hunter2@h:5432"}, "database.uri (DATABASE_URI)"},
		{"pg bad port", map[string]string{"DATABASE_URI": "postgresql://u:hunter2@h:99999/db"}, "database.uri (DATABASE_URI)"},
		{"malformed pg", map[string]string{"DATABASE_URI": "postgresql://u:hunter2@h:5432/db%zz"}, "database.uri (DATABASE_URI)"},
		{"sqlite two slashes", map[string]string{"DATABASE_URI": "sqlite://rel.db"}, "database.uri (DATABASE_URI)"},
		{"unknown engine", map[string]string{"DB_ENGINE": "oracle", "DB_PASSWORD": "hunter2"}, "database.engine (DB_ENGINE)"},
		{"pg fields without host", map[string]string{"DB_ENGINE": "postgres", "DB_NAME": "x"}, "database.host (DB_HOST)"},
		{"bad port field", map[string]string{"DB_ENGINE": "postgres", "DB_HOST": "h", "DB_NAME": "x", "DB_PORT": "70000"}, "database.port (DB_PORT)"},
		{"production without secret", map[string]string{"AURA_ENV": "production"}, "auth.jwt_secret (SECRET_KEY)"},
		{"production short secret", map[string]string{"FLASK_ENV": "production", "SECRET_KEY": "short"}, "auth.jwt_secret (SECRET_KEY)"},
		{"unknown env", map[string]string{"AURA_ENV": "staging"}, "env (AURA_ENV)"},
		{"bad duration", map[string]string{"AURA_AUTH_ACCESS_TTL": "soon"}, "access_ttl"},
		{"bad mail driver", map[string]string{"AURA_MAIL_DRIVER": "pigeon"}, "mail.driver"},
		{"production with the log driver", map[string]string{"AURA_ENV": "production", "SECRET_KEY": strings.Repeat("k", 32)}, "set AURA_MAIL_DRIVER=smtp"},
		{"production with the log driver named", map[string]string{"FLASK_ENV": "production", "SECRET_KEY": strings.Repeat("k", 32), "AURA_MAIL_DRIVER": "log"}, "mail.driver (AURA_MAIL_DRIVER)"},
		{"bad body limit", map[string]string{"AURA_SERVER_MAX_BODY_BYTES": "-1"}, "server.max_body_bytes"},
		{"negative connect timeout", map[string]string{"AURA_DATABASE_CONNECT_TIMEOUT": "-1s"}, "database.connect_timeout (AURA_DATABASE_CONNECT_TIMEOUT)"},
		{"metrics address without port", map[string]string{"AURA_METRICS_ADDR": "localhost"}, "metrics.addr (AURA_METRICS_ADDR)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, "", c.env)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.mention) || strings.Contains(msg, "\n") || strings.Contains(msg, "hunter2") {
				t.Fatalf("error %q should be one line naming %q without the password", msg, c.mention)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("config.yaml", "server:\n  addr: ':1001'\n  max_body_bytes: 1001\nauth:\n  access_ttl: 1m\nlimits:\n  login:\n    max_failures: 3\ncors:\n  allowed_origins: [\"https://a.example\"]\n")
	// .env overrides the file
	write(".env", "AURA_SERVER_ADDR=:1002\nAURA_SERVER_MAX_BODY_BYTES=1002\nSECRET_KEY=from-dotenv\n")

	cfg, err := load(t, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != ":1002" || cfg.Server.MaxBodyBytes != 1002 || cfg.Auth.AccessTTL.String() != "1m0s" ||
		cfg.Limits.Login.MaxFailures != 3 || cfg.Auth.JWTSecret != "from-dotenv" || cfg.CORS.AllowedOrigins[0] != "https://a.example" {
		t.Fatalf("file + .env: %+v", cfg)
	}
	// the environment overrides .env
	cfg, err = load(t, dir, map[string]string{"AURA_SERVER_ADDR": ":1003", "CORS_ALLOWED_ORIGINS": "https://b.example, https://c.example"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != ":1003" || cfg.Server.MaxBodyBytes != 1002 || len(cfg.CORS.AllowedOrigins) != 2 {
		t.Fatalf("env: %+v %v", cfg.Server, cfg.CORS)
	}
	// flags override the environment
	cfg, err = load(t, dir, map[string]string{"AURA_SERVER_ADDR": ":1003"}, "--addr", ":1004", "--database-uri", "sqlite:///flag.db")
	if err != nil || cfg.Server.Addr != ":1004" || cfg.Database.DSN.Path != "flag.db" {
		t.Fatalf("flags: %+v %v", cfg.Server, err)
	}
	// --config names another file
	other := filepath.Join(t.TempDir(), "other.yaml")
	if err := os.WriteFile(other, []byte("server:\n  addr: ':2001'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = load(t, t.TempDir(), nil, "--config", other)
	if err != nil || cfg.Server.Addr != ":2001" {
		t.Fatalf("--config: %+v %v", cfg, err)
	}
	if _, err := load(t, "", nil, "--config", filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("missing --config file accepted")
	}
}

func TestDevelopmentSecret(t *testing.T) {
	cfg, err := load(t, "", nil)
	if err != nil || !cfg.GeneratedSecret || len(cfg.Auth.JWTSecret) < MinSecretBytes {
		t.Fatalf("dev secret: %v %v", cfg.GeneratedSecret, err)
	}
	cfg, err = load(t, "", map[string]string{"AURA_ENV": "production", "SECRET_KEY": strings.Repeat("k", 32), "AURA_MAIL_DRIVER": "smtp",
		"AURA_STORAGE_ALLOW_PLAINTEXT": "true"})
	if err != nil || cfg.GeneratedSecret || cfg.Env != EnvProduction {
		t.Fatalf("prod secret: %v", err)
	}
}

func TestPoolOverrides(t *testing.T) {
	cfg, err := load(t, "", map[string]string{"AURA_DATABASE_POOL_MAX_OPEN_CONNS": "3", "AURA_DATABASE_POOL_CONN_MAX_LIFETIME": "10m"})
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Database.Pool; p.MaxOpenConns == nil || *p.MaxOpenConns != 3 || p.ConnMaxLifetime == nil || p.ConnMaxLifetime.Minutes() != 10 || p.MaxIdleConns != nil {
		t.Fatalf("pool: %+v", p)
	}
}

// TestProductionNeedsSMTP: production refuses the log driver whichever source
// asks for production; development keeps it, printing links is its purpose.
func TestProductionNeedsSMTP(t *testing.T) {
	secret := strings.Repeat("k", 32)
	_, err := loadFile(t, "env: production\nauth:\n  jwt_secret: "+secret+"\nmail:\n  driver: log\n", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "mail.driver (AURA_MAIL_DRIVER): ") || !strings.Contains(err.Error(), "set AURA_MAIL_DRIVER=smtp") {
		t.Fatalf("env: production in config.yaml: %v", err)
	}
	if _, err := load(t, "", map[string]string{"SECRET_KEY": secret}, "--env", "production"); err == nil {
		t.Fatal("--env production with the log driver accepted")
	}
	cfg, err := loadFile(t, "env: production\nmail:\n  driver: smtp\nstorage:\n  allow_plaintext: true\n", map[string]string{"SECRET_KEY": secret})
	if err != nil || cfg.Mail.Driver != "smtp" {
		t.Fatalf("production with smtp: %v", err)
	}
	cfg, err = load(t, "", nil)
	if err != nil || cfg.Env != EnvDevelopment || cfg.Mail.Driver != "log" {
		t.Fatalf("development keeps the log driver: %v", err)
	}
}

// TestGoogleSettings: Google sign-in is off by default with Google's issuer;
// the issuer must be https, but for http on the loopback (tests).
func TestGoogleSettings(t *testing.T) {
	cfg, err := load(t, "", nil)
	if err != nil || cfg.Auth.Google.ClientID != "" || cfg.Auth.Google.Issuer != "https://accounts.google.com" {
		t.Fatalf("defaults: %+v %v", cfg.Auth.Google, err)
	}
	for issuer, ok := range map[string]bool{
		"https://accounts.google.com":     true,
		"https://id.example/realms/a":     true,
		"http://127.0.0.1:5556":           true,
		"http://localhost:5556/dex":       true,
		"http://[::1]:5556":               true,
		"http://accounts.google.com":      false,
		"http://10.0.0.5":                 false,
		"accounts.google.com":             false,
		"ftp://accounts.google.com":       false,
		"https://a@accounts.google.com":   false,
		"https://accounts.google.com?x=1": false,
	} {
		cfg, err := load(t, "", map[string]string{"AURA_AUTH_GOOGLE_CLIENT_ID": " x.apps.googleusercontent.com ", "AURA_AUTH_GOOGLE_ISSUER": issuer})
		if (err == nil) != ok {
			t.Errorf("issuer %q: %v", issuer, err)
		}
		if err != nil && !strings.Contains(err.Error(), "auth.google.issuer (AURA_AUTH_GOOGLE_ISSUER)") {
			t.Errorf("issuer %q: error does not name the setting: %v", issuer, err)
		}
		if err == nil && cfg.Auth.Google.ClientID != "x.apps.googleusercontent.com" {
			t.Errorf("client id %q not trimmed", cfg.Auth.Google.ClientID)
		}
	}
}

// TestStorageEncryptionSettings: a key is base64 of 32 bytes, a keeper a
// URL of a known scheme, not both; production needs one unless
// storage.allow_plaintext; no message repeats a key.
func TestStorageEncryptionSettings(t *testing.T) {
	key := "q2Vy7S0Hc3dXvO2bH9FQYc7v0mUe0I6hV0eGCEyS8HY=" // base64 of 32 bytes
	prod := func(extra map[string]string) map[string]string {
		m := map[string]string{"AURA_ENV": "production", "SECRET_KEY": strings.Repeat("k", 32), "AURA_MAIL_DRIVER": "smtp"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for name, c := range map[string]struct {
		env  map[string]string
		want string // "" accepted, else the start of the error
	}{
		"development, none":      {nil, ""},
		"key":                    {map[string]string{"AURA_STORAGE_ENCRYPTION_KEY": key}, ""},
		"keeper":                 {map[string]string{"AURA_STORAGE_KEEPER": "awskms://alias/aura?region=eu-west-1"}, ""},
		"short key":              {map[string]string{"AURA_STORAGE_ENCRYPTION_KEY": "c2hvcnQ="}, "storage.encryption_key (AURA_STORAGE_ENCRYPTION_KEY): must be base64 of 32 bytes"},
		"not base64":             {map[string]string{"AURA_STORAGE_ENCRYPTION_KEY": "secret password!"}, "storage.encryption_key (AURA_STORAGE_ENCRYPTION_KEY): must be base64"},
		"both":                   {map[string]string{"AURA_STORAGE_ENCRYPTION_KEY": key, "AURA_STORAGE_KEEPER": "base64key://" + key}, "storage.encryption_key (AURA_STORAGE_ENCRYPTION_KEY) and storage.keeper"},
		"unknown keeper":         {map[string]string{"AURA_STORAGE_KEEPER": "vault://k"}, "storage.keeper (AURA_STORAGE_KEEPER): must be a URL of base64key://"},
		"production, none":       {prod(nil), "storage.encryption_key (AURA_STORAGE_ENCRYPTION_KEY): production stores patient images encrypted"},
		"production, key":        {prod(map[string]string{"AURA_STORAGE_ENCRYPTION_KEY": key}), ""},
		"production, keeper":     {prod(map[string]string{"AURA_STORAGE_KEEPER": "base64key://" + key}), ""},
		"production, plaintext":  {prod(map[string]string{"AURA_STORAGE_ALLOW_PLAINTEXT": "true"}), ""},
		"allow_plaintext typo'd": {map[string]string{"AURA_STORAGE_ALLOW_PLAINTEXT": "yes"}, "storage.allow_plaintext (AURA_STORAGE_ALLOW_PLAINTEXT): \"yes\" is not a boolean"},
	} {
		cfg, err := load(t, "", c.env)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
			t.Errorf("%s: %v; want %q", name, err, c.want)
		case err != nil && strings.Contains(err.Error(), "c2hvcnQ"):
			t.Errorf("%s: the error repeats the key: %v", name, err)
		case err == nil && c.env["AURA_STORAGE_ENCRYPTION_KEY"] != "" && cfg.Storage.EncryptionKey != key:
			t.Errorf("%s: key %q", name, cfg.Storage.EncryptionKey)
		}
	}
	cfg, err := loadFile(t, "storage:\n  encryption_key: "+key+"\n  allow_plaintext: false\n", nil)
	if err != nil || cfg.Storage.EncryptionKey != key {
		t.Fatalf("config.yaml: %v", err)
	}
}
