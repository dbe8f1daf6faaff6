// Package config turns config.yaml, .env, the environment and command-line flags
// into one typed, validated Config. It is read by main and app only.
package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/joho/godotenv"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Modes of the server; production refuses weak secrets.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// Config is the whole, validated configuration of one AURA process.
type Config struct {
	Env      string         `mapstructure:"env"`
	Server   ServerConfig   `mapstructure:"server"`
	Database DatabaseConfig `mapstructure:"database"`
	Auth     AuthConfig     `mapstructure:"auth"`
	Limits   LimitsConfig   `mapstructure:"limits"`
	Mail     MailConfig     `mapstructure:"mail"`
	CORS     CORSConfig     `mapstructure:"cors"`
	Log      LogConfig      `mapstructure:"log"`

	Housekeeping HousekeepingConfig `mapstructure:"housekeeping"`
	Storage      StorageConfig      `mapstructure:"storage"`
	Screening    ScreeningConfig    `mapstructure:"screening"`
	Intake       IntakeConfig       `mapstructure:"intake"`
	Analysis     AnalysisConfig     `mapstructure:"analysis"`
	I18n         I18nConfig         `mapstructure:"i18n"`
	Metrics      MetricsConfig      `mapstructure:"metrics"`
	Privacy      PrivacyConfig      `mapstructure:"privacy"`
	Backup       BackupConfig       `mapstructure:"backup"`
	Billing      BillingConfig      `mapstructure:"billing"`
	Alerts       AlertsConfig       `mapstructure:"alerts"`
	Messages     MessagesConfig     `mapstructure:"messages"`
	Events       EventsConfig       `mapstructure:"events"`

	// GeneratedSecret is true when no JWT secret was configured and a random
	// one was made for this process (development only).
	GeneratedSecret bool `mapstructure:"-"`
}

// I18nConfig sets the language of answers to requests that name none AURA
// speaks (Accept-Language).
type I18nConfig struct {
	DefaultLanguage string `mapstructure:"default_language"`
}

// PrivacyConfig steers what happens to an account its owner deletes.
type PrivacyConfig struct {
	// ErasureGrace is how long after the deletion housekeeping erases the
	// account's personal data; until then an admin may reactivate the
	// account, which cancels the erasure.
	ErasureGrace time.Duration `mapstructure:"erasure_grace"`
	// PseudonymKey is the key of the research export's pseudonyms
	// (HMAC-SHA-256 of a patient record's id): base64 of 32 bytes. Empty:
	// the research export answers 503 (nothing else needs it).
	PseudonymKey string `mapstructure:"pseudonym_key"`
}

// AlertsConfig steers the alerts of results a clinic must look at.
type AlertsConfig struct {
	// EscalateAfter is how long an alert may stay open (not acknowledged)
	// before the clinic's admins are told again, once (housekeeping does
	// it, at its next run after this delay).
	EscalateAfter time.Duration `mapstructure:"escalate_after"`
}

// BillingConfig turns on packages, credits and payment. Off: every upload
// is free, as without billing.
type BillingConfig struct {
	// Enabled makes each upload take a credit from a wallet.
	Enabled bool `mapstructure:"enabled"`
	// Provider takes the payments: vnpay, or fake (settles every order at
	// once; development only).
	Provider string      `mapstructure:"provider"`
	VNPay    VNPayConfig `mapstructure:"vnpay"`
}

// VNPayConfig is the merchant's VNPay 2.1.0 account.
type VNPayConfig struct {
	TmnCode string `mapstructure:"tmn_code"`
	// HashSecret signs and checks every VNPay message; never logged.
	HashSecret string `mapstructure:"hash_secret"`
	PayURL     string `mapstructure:"pay_url"`
	// ReturnURL is this server's GET /api/payments/vnpay/return, as the
	// payer's browser reaches it.
	ReturnURL string `mapstructure:"return_url"`
}

// MetricsConfig places the operators' listener: Prometheus metrics at
// /metrics and the operator health view at /health.
type MetricsConfig struct {
	// Addr is its listen address (e.g. 127.0.0.1:9464); empty: no listener.
	Addr string `mapstructure:"addr"`
}

// StorageConfig chooses where images and vessel maps are kept.
type StorageConfig struct {
	// URI is file:///abs/dir, file://relative/dir or s3://bucket?endpoint=...
	URI string `mapstructure:"uri"`
	// EncryptionKey is the master key of encryption at rest: base64 of 32
	// bytes. Exclusive with Keeper.
	EncryptionKey string `mapstructure:"encryption_key"`
	// Keeper is the master key held elsewhere: a gocloud.dev/secrets URL
	// (base64key://, awskms://; gcpkms:// and hashivault:// are not
	// compiled into this build).
	Keeper string `mapstructure:"keeper"`
	// AllowPlaintext lets production start with neither key: objects are
	// then stored in the clear.
	AllowPlaintext bool `mapstructure:"allow_plaintext"`
}

// ScreeningConfig bounds uploads, image decodes and report renders.
type ScreeningConfig struct {
	MaxImageBytes int64 `mapstructure:"max_image_bytes"`
	// DecodeMemory is the bytes of decoded images (upload checks, reports)
	// that one process holds at once, each decode's share read from the
	// image's header; an image needing more alone is refused (400).
	DecodeMemory int64 `mapstructure:"decode_memory"`
	// ReportRendersPerAccount is how many PDF reports one account may have
	// rendered at once in one process (429 RATE_LIMITED beyond).
	ReportRendersPerAccount int `mapstructure:"report_renders_per_account"`
}

// IntakeConfig bounds one request of a batch's items
// (POST /api/batches/{id}/items).
type IntakeConfig struct {
	// MaxBatchItems is the most manifest rows (and images) one request may
	// carry; beyond, 413 before anything is stored.
	MaxBatchItems int `mapstructure:"max_batch_items"`
	// MaxRequestBytes is the most bytes one request may carry (and the most
	// a ZIP archive may expand to); beyond, 413.
	MaxRequestBytes int64 `mapstructure:"max_request_bytes"`
}

// AnalysisConfig tunes the analysis workers.
type AnalysisConfig struct {
	Analyzer    string        `mapstructure:"analyzer"`
	Workers     int           `mapstructure:"workers"`
	MaxAttempts int           `mapstructure:"max_attempts"`
	Lease       time.Duration `mapstructure:"lease"`
	// Nice is the OS niceness of the workers' threads (Linux; 0 leaves
	// them at the process's priority).
	Nice int `mapstructure:"nice"`
	// Timeout bounds one analysis (default: nine tenths of the lease).
	Timeout time.Duration `mapstructure:"timeout"`
	// OutageBudget is how long an analysis waits out an outage of the
	// store, the database or the model server (with capped backoff, using
	// up no attempt) before its screening is failed.
	OutageBudget time.Duration `mapstructure:"outage_budget"`
	OIP          OIPConfig     `mapstructure:"oip"`
}

// OIPConfig points the oip analyzer at a model server.
type OIPConfig struct {
	URL     string        `mapstructure:"url"`
	Model   string        `mapstructure:"model"`
	Timeout time.Duration `mapstructure:"timeout"`
}

// ServerConfig holds the HTTP listener settings.
type ServerConfig struct {
	Addr              string        `mapstructure:"addr"`
	MaxBodyBytes      int64         `mapstructure:"max_body_bytes"`
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	ReadTimeout       time.Duration `mapstructure:"read_timeout"`
	WriteTimeout      time.Duration `mapstructure:"write_timeout"`
	IdleTimeout       time.Duration `mapstructure:"idle_timeout"`
	ShutdownGrace     time.Duration `mapstructure:"shutdown_grace"`
	TrustedProxies    []string      `mapstructure:"trusted_proxies"`
	// MemoryLimitMiB is the Go runtime's soft memory limit
	// (debug.SetMemoryLimit); 0 leaves Go's default (GOMEMLIMIT, else none).
	MemoryLimitMiB int64 `mapstructure:"memory_limit_mib"`
	// UploadTimeout replaces ReadTimeout for an image upload (POST
	// /api/screenings): the whole request, body included, must arrive
	// within it; the answer may take WriteTimeout more. 0 keeps ReadTimeout.
	UploadTimeout time.Duration `mapstructure:"upload_timeout"`
}

// DatabaseConfig is either a whole URI or its fields; URI wins.
type DatabaseConfig struct {
	URI          string        `mapstructure:"uri"`
	Engine       string        `mapstructure:"engine"`
	Host         string        `mapstructure:"host"`
	Port         int           `mapstructure:"port"`
	Name         string        `mapstructure:"name"`
	User         string        `mapstructure:"user"`
	Password     string        `mapstructure:"password"`
	SSLMode      string        `mapstructure:"sslmode"`
	AutoMigrate  bool          `mapstructure:"auto_migrate"`
	QueryTimeout time.Duration `mapstructure:"query_timeout"`
	// ConnectTimeout is how long a start waits for the database to accept
	// connections (0: one try).
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
	Pool           PoolConfig    `mapstructure:"pool"`

	// DSN is the parsed, normalised form of URI or the fields.
	DSN DSN `mapstructure:"-"`
}

// PoolConfig overrides the per-engine pool defaults; nil means "engine default".
type PoolConfig struct {
	MaxOpenConns    *int           `mapstructure:"max_open_conns"`
	MaxIdleConns    *int           `mapstructure:"max_idle_conns"`
	ConnMaxLifetime *time.Duration `mapstructure:"conn_max_lifetime"`
	ConnMaxIdleTime *time.Duration `mapstructure:"conn_max_idle_time"`
	BusyTimeout     *time.Duration `mapstructure:"busy_timeout"`
}

// AuthConfig holds token and password-hashing settings.
type AuthConfig struct {
	JWTSecret         string        `mapstructure:"jwt_secret"`
	AccessTTL         time.Duration `mapstructure:"access_ttl"`
	RefreshTTL        time.Duration `mapstructure:"refresh_ttl"`
	VerificationTTL   time.Duration `mapstructure:"verification_ttl"`
	ResetTTL          time.Duration `mapstructure:"reset_ttl"`
	PasswordMinLength int           `mapstructure:"password_min_length"`
	Argon2            Argon2Config  `mapstructure:"argon2"`
	MaxConcurrentHash int           `mapstructure:"max_concurrent_hashes"`
	Google            GoogleConfig  `mapstructure:"google"`
}

// GoogleConfig turns on Google sign-in (POST /api/auth/google): ID tokens of
// Issuer (discovered by OpenID Connect) whose aud is ClientID. Off while
// ClientID is empty.
type GoogleConfig struct {
	ClientID string `mapstructure:"client_id"`
	Issuer   string `mapstructure:"issuer"`
}

// Argon2Config holds the argon2id cost parameters (memory in KiB).
type Argon2Config struct {
	MemoryKiB uint32 `mapstructure:"memory_kib"`
	Time      uint32 `mapstructure:"time"`
	Threads   uint8  `mapstructure:"threads"`
}

// LimitsConfig holds the abuse limits.
type LimitsConfig struct {
	Login    LoginLimit    `mapstructure:"login"`
	Register RegisterLimit `mapstructure:"register"`
	Email    EmailLimit    `mapstructure:"email"`
	Upload   UploadLimit   `mapstructure:"upload"`
	Export   ExportLimit   `mapstructure:"export"`
	Messages MessagesLimit `mapstructure:"messages"`
}

// MessagesLimit bounds the messages one account may post per minute in
// conversations, across instances (0: no limit).
type MessagesLimit struct {
	PerMinute int `mapstructure:"per_minute"`
}

// MessagesConfig steers conversations: a message still unread EmailAfter
// after it was sent is emailed to its recipients (by housekeeping).
type MessagesConfig struct {
	EmailAfter time.Duration `mapstructure:"email_after"`
}

// EventsConfig steers the live update streams (GET /api/events): the
// comment line sent on a quiet stream every Heartbeat, and how often a
// stream checks that its session is live and its roles held.
type EventsConfig struct {
	Heartbeat    time.Duration `mapstructure:"heartbeat"`
	SessionCheck time.Duration `mapstructure:"session_check"`
}

// ExportLimit bounds the exports of their data (GET
// /api/patients/me/export) one account may start per window.
type ExportLimit struct {
	Max    int           `mapstructure:"max"`
	Window time.Duration `mapstructure:"window"`
}

// UploadLimit bounds the screenings one patient account may upload per
// window, so that one account cannot flood the analysis queue.
type UploadLimit struct {
	Max    int           `mapstructure:"max"`
	Window time.Duration `mapstructure:"window"`
}

// RegisterLimit bounds sign-ups per client address.
type RegisterLimit struct {
	Max    int           `mapstructure:"max"`
	Window time.Duration `mapstructure:"window"`
}

// LoginLimit bounds failed logins per account and per client address.
type LoginLimit struct {
	MaxFailures int           `mapstructure:"max_failures"`
	Window      time.Duration `mapstructure:"window"`
}

// EmailLimit spaces the mail sent to one address.
type EmailLimit struct {
	Interval time.Duration `mapstructure:"interval"`
}

// MailConfig selects and configures mail delivery.
type MailConfig struct {
	Driver          string        `mapstructure:"driver"`
	From            string        `mapstructure:"from"`
	FrontendURL     string        `mapstructure:"frontend_url"`
	RetryMaxBackoff time.Duration `mapstructure:"retry_max_backoff"`
	PollInterval    time.Duration `mapstructure:"poll_interval"`
	Lease           time.Duration `mapstructure:"lease"`
	SMTP            SMTPConfig    `mapstructure:"smtp"`
}

// SMTPConfig is the relay used when Driver is "smtp".
type SMTPConfig struct {
	Host     string        `mapstructure:"host"`
	Port     int           `mapstructure:"port"`
	Username string        `mapstructure:"username"`
	Password string        `mapstructure:"password"`
	StartTLS bool          `mapstructure:"starttls"`
	Timeout  time.Duration `mapstructure:"timeout"`
}

// HousekeepingConfig steers the periodic deletion of rows nothing needs any
// more (ended sessions and their refresh tokens, spent link tokens, sent mail,
// ended rate-limit windows).
type HousekeepingConfig struct {
	// Enabled runs the clean-up in this process; with several instances any
	// one of them may run it, one at a time.
	Enabled bool `mapstructure:"enabled"`
	// Interval is how often a run is due across all instances sharing the
	// database.
	Interval time.Duration `mapstructure:"interval"`
	// Retention is how long a row is kept after its life ended (session
	// expired or revoked, link used or expired, mail sent or given up).
	Retention time.Duration `mapstructure:"retention"`
}

func (h HousekeepingConfig) validate() error {
	if h.Interval <= 0 {
		return errors.New("housekeeping.interval (AURA_HOUSEKEEPING_INTERVAL): must be positive")
	}
	if h.Retention <= 0 {
		return errors.New("housekeeping.retention (AURA_HOUSEKEEPING_RETENTION): must be positive")
	}
	return nil
}

// BackupConfig makes the server take backups itself (docs/operations.md,
// "Backups and restore").
type BackupConfig struct {
	// Every is the time between two backups across all instances sharing
	// the database; 0 (the default) takes none.
	Every time.Duration `mapstructure:"every"`
	// URI is where they go: file:///DIR or s3://BUCKET/PREFIX?endpoint=...
	URI string `mapstructure:"uri"`
	// Keep is how many of the newest complete backups are kept there.
	Keep int `mapstructure:"keep"`
}

func (b BackupConfig) validate(db DSN) error {
	switch {
	case b.Every < 0:
		return errors.New("backup.every (AURA_BACKUP_EVERY): must be 0 (off) or positive")
	case b.Keep < 1:
		return errors.New("backup.keep (AURA_BACKUP_KEEP): must be at least 1")
	case b.Every > 0 && strings.TrimSpace(b.URI) == "":
		return errors.New("backup.uri (AURA_BACKUP_URI): required when backup.every is set: file:///DIR or s3://BUCKET/PREFIX?endpoint=URL&region=R")
	case b.Every > 0 && db.Engine == EngineSQLite && db.Memory:
		return errors.New("backup.every (AURA_BACKUP_EVERY): an in-memory database cannot be backed up; use a database file or PostgreSQL")
	}
	if b.URI != "" {
		if err := checkBackupURI(b.URI); err != nil {
			return fmt.Errorf("backup.uri (AURA_BACKUP_URI): %v", err)
		}
	}
	return nil
}

// checkBackupURI checks the form of a backup location (package backup
// opens it; config imports no AURA package).
func checkBackupURI(uri string) error {
	scheme, rest, ok := strings.Cut(uri, "://")
	switch {
	case !ok:
		return errors.New("not a URI: use file:///DIR or s3://BUCKET/PREFIX?endpoint=URL&region=R")
	case scheme != "file" && scheme != "s3":
		return fmt.Errorf("scheme %q is not supported: use file:///DIR or s3://BUCKET/PREFIX", scheme)
	case strings.Trim(strings.SplitN(rest, "?", 2)[0], "/") == "":
		return errors.New("names no directory or bucket")
	case scheme == "s3" && strings.Contains(strings.SplitN(rest, "/", 2)[0], "@"):
		return errors.New("credentials in the URI are refused; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead")
	}
	return nil
}

// CORSConfig lists the browser origins allowed to call the API.
type CORSConfig struct {
	AllowedOrigins []string `mapstructure:"allowed_origins"`
}

// LogConfig selects the log level and format (text or json).
type LogConfig struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// defaults are the built-in values; a key of Config missing here starts at
// its zero value. Every key of Config (read from its mapstructure tags, see
// keys.go) is read from the environment as AURA_A_B_C for a.b_c, plus the
// aliases below.
var defaults = map[string]any{
	"env":                              EnvDevelopment,
	"server.addr":                      ":9999",
	"server.max_body_bytes":            65536,
	"server.memory_limit_mib":          0,
	"server.read_header_timeout":       "5s",
	"server.read_timeout":              "15s",
	"server.upload_timeout":            "120s",
	"server.write_timeout":             "30s",
	"server.idle_timeout":              "120s",
	"server.shutdown_grace":            "20s",
	"server.trusted_proxies":           []string{},
	"database.uri":                     "",
	"database.engine":                  "sqlite",
	"database.host":                    "",
	"database.port":                    0,
	"database.name":                    "aura.db",
	"database.user":                    "",
	"database.password":                "",
	"database.sslmode":                 "",
	"database.auto_migrate":            true,
	"database.query_timeout":           "5s",
	"database.connect_timeout":         "30s",
	"metrics.addr":                     "",
	"database.pool.max_open_conns":     nil,
	"database.pool.max_idle_conns":     nil,
	"database.pool.conn_max_lifetime":  nil,
	"database.pool.conn_max_idle_time": nil,
	"database.pool.busy_timeout":       nil,
	"auth.jwt_secret":                  "",
	"auth.access_ttl":                  "15m",
	"auth.refresh_ttl":                 "168h",
	"auth.verification_ttl":            "24h",
	"auth.reset_ttl":                   "1h",
	"auth.password_min_length":         12,
	"auth.argon2.memory_kib":           19456,
	"auth.argon2.time":                 2,
	"auth.argon2.threads":              1,
	"auth.max_concurrent_hashes":       0,
	"auth.google.client_id":            "",
	"auth.google.issuer":               "https://accounts.google.com",
	"limits.login.max_failures":        10,
	"limits.login.window":              "15m",
	"limits.register.max":              30,
	"limits.register.window":           "1h",
	"limits.email.interval":            "1m",
	"limits.upload.max":                30,
	"limits.upload.window":             "1h",
	"limits.export.max":                5,
	"limits.export.window":             "1h",
	"limits.messages.per_minute":       30,
	"messages.email_after":             "1h",
	"events.heartbeat":                 "25s",
	"events.session_check":             "20s",
	"privacy.erasure_grace":            "720h",
	"privacy.pseudonym_key":            "",
	"alerts.escalate_after":            "24h",
	"mail.driver":                      "log",
	"mail.from":                        "AURA <no-reply@aura.local>",
	"mail.frontend_url":                "http://localhost:3000",
	"mail.retry_max_backoff":           "5m",
	"mail.poll_interval":               "1s",
	"mail.lease":                       "2m",
	"mail.smtp.host":                   "localhost",
	"mail.smtp.port":                   587,
	"mail.smtp.username":               "",
	"mail.smtp.password":               "",
	"mail.smtp.starttls":               true,
	"mail.smtp.timeout":                "15s",
	"cors.allowed_origins":             []string{},
	"log.level":                        "info",
	"storage.uri":                      "file://aura-data",
	"storage.encryption_key":           "",
	"storage.keeper":                   "",
	"storage.allow_plaintext":          false,
	"i18n.default_language":            "vi",
	"screening.max_image_bytes":        20 << 20,
	"intake.max_batch_items":           2000,
	"intake.max_request_bytes":         int64(4 << 30),
	"analysis.analyzer":                "vessels",
	"analysis.workers":                 max(1, runtime.NumCPU()/2),
	"analysis.max_attempts":            3,
	"analysis.lease":                   "5m",
	"analysis.nice":                    10,
	"analysis.timeout":                 "0s",
	"analysis.outage_budget":           "15m",
	"analysis.oip.url":                 "",
	"analysis.oip.model":               "",
	"analysis.oip.timeout":             "30s",
	"log.format":                       "",
	"housekeeping.enabled":             true,
	"housekeeping.interval":            "1h",
	"housekeeping.retention":           "720h",
	"backup.every":                     "0s",
	"backup.uri":                       "",
	"backup.keep":                      7,
	"billing.enabled":                  false,
	"billing.provider":                 "vnpay",
	"billing.vnpay.tmn_code":           "",
	"billing.vnpay.hash_secret":        "",
	"billing.vnpay.pay_url":            "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html",
	"billing.vnpay.return_url":         "",

	// the decode memory budget and the report renders (docs/screening.md, docs/report.md)
	"screening.decode_memory":              512 << 20,
	"screening.report_renders_per_account": 2,
}

// aliases are the environment names kept from the first AURA backend; they are
// read after AURA_<KEY> and before nothing else.
var aliases = map[string][]string{
	"env":                  {"FLASK_ENV"},
	"database.uri":         {"DATABASE_URI"},
	"database.engine":      {"DB_ENGINE"},
	"database.host":        {"DB_HOST"},
	"database.port":        {"DB_PORT"},
	"database.name":        {"DB_NAME"},
	"database.user":        {"DB_USER"},
	"database.password":    {"DB_PASSWORD"},
	"database.sslmode":     {"DB_SSLMODE"},
	"auth.jwt_secret":      {"SECRET_KEY"},
	"mail.smtp.host":       {"SMTP_SERVER"},
	"mail.smtp.port":       {"SMTP_PORT"},
	"mail.smtp.username":   {"SENDER_EMAIL"},
	"mail.from":            {"SENDER_EMAIL"},
	"mail.smtp.password":   {"SENDER_PASSWORD"},
	"mail.smtp.starttls":   {"SMTP_STARTTLS"},
	"mail.frontend_url":    {"FRONTEND_URL"},
	"cors.allowed_origins": {"CORS_ALLOWED_ORIGINS"},
}

// envNames returns the environment variables read for key, first wins.
func envNames(key string) []string {
	return append([]string{auraEnvName(key)}, aliases[key]...)
}

// Flags registers the command-line flags that override every other source.
func Flags(fs *pflag.FlagSet) {
	fs.String("config", "", "path to config.yaml (default: ./config.yaml when present)")
	fs.String("database-uri", "", "database URI (overrides database.uri / DATABASE_URI)")
	fs.String("addr", "", "listen address (overrides server.addr)")
	fs.String("env", "", "mode: development or production")
	fs.String("log-level", "", "log level: debug, info, warn, error")
}

var flagKeys = map[string]string{
	"database-uri": "database.uri",
	"addr":         "server.addr",
	"env":          "env",
	"log-level":    "log.level",
}

// Options tell Load where to look; zero values mean the process's own.
type Options struct {
	// Flags is the parsed flag set registered with Flags (may be nil).
	Flags *pflag.FlagSet
	// Dir is the working directory searched for config.yaml and .env.
	Dir string
	// Getenv reads the environment; os.Getenv when nil.
	Getenv func(string) string
	// Environ lists the environment as KEY=VALUE, to find AURA_* variables
	// that no setting reads. When nil: os.Environ if Getenv is nil too,
	// otherwise no variable is listed (Getenv alone cannot be enumerated).
	Environ func() []string
}

// Load reads every source in order of precedence and validates the result.
// Errors are single lines that name the offending setting. A key of the
// configuration file or an AURA_* variable that no setting has is refused
// (AURA_TEST_* excepted: the test suite's own), as is a value of the wrong
// form.
func Load(opts Options) (*Config, error) {
	getenv, environ := opts.Getenv, opts.Environ
	if getenv == nil {
		getenv = os.Getenv
		if environ == nil {
			environ = os.Environ
		}
	}
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	known := knownKeys()
	v := viper.New()

	// 1. config.yaml, read before anything else so that its keys can be
	// checked on their own.
	cfgFile, cfgName := "", ""
	if opts.Flags != nil {
		cfgFile, _ = opts.Flags.GetString("config")
		cfgName = cfgFile
	}
	if cfgFile == "" {
		if p := dir + "/config.yaml"; fileExists(p) {
			cfgFile, cfgName = p, "config.yaml"
		}
	}
	if cfgFile != "" {
		v.SetConfigFile(cfgFile)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config file %s: %w", cfgFile, oneLine(err))
		}
		if err := known.checkFileKeys(cfgName, v.AllKeys(), v.Get); err != nil {
			return nil, err
		}
	}
	for k, val := range defaults {
		v.SetDefault(k, val)
	}

	// 2. .env overrides the file, 3. the environment overrides .env.
	dotenv := map[string]string{}
	if p := dir + "/.env"; fileExists(p) {
		m, err := godotenv.Read(p)
		if err != nil {
			return nil, fmt.Errorf(".env: %w", oneLine(err))
		}
		dotenv = m
	}
	if environ != nil {
		var names []string
		for _, kv := range environ() {
			name, _, _ := strings.Cut(kv, "=")
			names = append(names, name)
		}
		if err := known.checkEnvNames("environment", names); err != nil {
			return nil, err
		}
	}
	if err := known.checkEnvNames(".env", slices.Collect(maps.Keys(dotenv))); err != nil {
		return nil, err
	}
	from := map[string]string{} // key -> the variable that set it
	for _, f := range known.fields {
		if name, val, ok := lookup(envNames(f.key), getenv, dotenv); ok {
			v.Set(f.key, val)
			from[f.key] = name
		}
	}
	// 4. flags override everything.
	if opts.Flags != nil {
		for name, key := range flagKeys {
			if f := opts.Flags.Lookup(name); f != nil && f.Changed {
				v.Set(key, f.Value.String())
				from[key] = "--" + name
			}
		}
	}

	for _, f := range known.fields {
		if msg := checkForm(f, v.Get(f.key)); msg != "" {
			return nil, fmt.Errorf("%s: %s", settingName(f.key, from[f.key]), msg)
		}
	}
	var cfg Config
	err := v.Unmarshal(&cfg, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		mapstructure.StringToSliceHookFunc(","),
	)), func(dc *mapstructure.DecoderConfig) {
		// The checks above name unknown keys; this is the decoder's own
		// guarantee that none slipped through.
		dc.ErrorUnused = true
	})
	if err != nil {
		return nil, fmt.Errorf("config: %w", oneLine(err))
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := cfg.Housekeeping.validate(); err != nil {
		return nil, err
	}
	if err := cfg.Backup.validate(cfg.Database.DSN); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// lookup returns the first environment value set for names: the real
// environment first, then .env, so the environment overrides .env.
func lookup(names []string, getenv func(string) string, dotenv map[string]string) (name, val string, ok bool) {
	for _, n := range names {
		if val := getenv(n); val != "" {
			return n, val, true
		}
	}
	for _, n := range names {
		if val, ok := dotenv[n]; ok && val != "" {
			return n, val, true
		}
	}
	return "", "", false
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func oneLine(err error) error {
	return errors.New(strings.Join(strings.Fields(err.Error()), " "))
}
