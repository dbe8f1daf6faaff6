package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// MinSecretBytes is the shortest JWT secret production accepts.
const MinSecretBytes = 32

func (c *Config) validate() error {
	c.Env = strings.ToLower(strings.TrimSpace(c.Env))
	switch c.Env {
	case EnvDevelopment, EnvProduction:
	case "dev":
		c.Env = EnvDevelopment
	case "prod":
		c.Env = EnvProduction
	default:
		return fmt.Errorf("env (AURA_ENV): unknown mode %q; accepted: development, production", c.Env)
	}

	if strings.TrimSpace(c.Database.URI) != "" {
		dsn, err := ParseURI(c.Database.URI)
		if err != nil {
			return fmt.Errorf("database.uri (DATABASE_URI): %v; %s", err, AcceptedURIs)
		}
		c.Database.DSN = dsn
	} else {
		dsn, err := fieldsDSN(c.Database)
		if err != nil {
			return err
		}
		c.Database.DSN = dsn
	}

	if c.Auth.JWTSecret == "" {
		if c.Env == EnvProduction {
			return fmt.Errorf("auth.jwt_secret (SECRET_KEY): required in production, at least %d bytes", MinSecretBytes)
		}
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		c.Auth.JWTSecret = hex.EncodeToString(b)
		c.GeneratedSecret = true
	} else if c.Env == EnvProduction && len(c.Auth.JWTSecret) < MinSecretBytes {
		return fmt.Errorf("auth.jwt_secret (SECRET_KEY): too short for production, at least %d bytes", MinSecretBytes)
	}

	checks := []struct {
		ok   bool
		what string
	}{
		{c.Server.Addr != "", "server.addr (AURA_SERVER_ADDR): must not be empty"},
		{c.Server.MaxBodyBytes > 0, "server.max_body_bytes (AURA_SERVER_MAX_BODY_BYTES): must be positive"},
		{c.Server.ShutdownGrace > 0, "server.shutdown_grace: must be positive"},
		{c.Server.MemoryLimitMiB >= 0, "server.memory_limit_mib (AURA_SERVER_MEMORY_LIMIT_MIB): must not be negative (0: Go's default)"},
		{c.Server.UploadTimeout >= 0, "server.upload_timeout (AURA_SERVER_UPLOAD_TIMEOUT): must not be negative (0 keeps server.read_timeout)"},
		{c.Database.QueryTimeout > 0, "database.query_timeout: must be positive"},
		{c.Database.ConnectTimeout >= 0, "database.connect_timeout (AURA_DATABASE_CONNECT_TIMEOUT): must not be negative (0 means one try)"},
		{c.Auth.AccessTTL > 0, "auth.access_ttl (AURA_AUTH_ACCESS_TTL): must be positive"},
		{c.Auth.RefreshTTL > 0, "auth.refresh_ttl (AURA_AUTH_REFRESH_TTL): must be positive"},
		{c.Auth.VerificationTTL > 0, "auth.verification_ttl (AURA_AUTH_VERIFICATION_TTL): must be positive"},
		{c.Auth.ResetTTL > 0, "auth.reset_ttl (AURA_AUTH_RESET_TTL): must be positive"},
		{c.Auth.PasswordMinLength >= 8 && c.Auth.PasswordMinLength <= 128, "auth.password_min_length: must be 8-128"},
		{c.Auth.Argon2.MemoryKiB >= 19456 || c.Env != EnvProduction, "auth.argon2.memory_kib: at least 19456 (19 MiB) in production"},
		{c.Auth.Argon2.Time >= 1 && c.Auth.Argon2.Threads >= 1 && c.Auth.Argon2.MemoryKiB >= 8, "auth.argon2: time, threads and memory_kib must be positive"},
		{c.Limits.Login.MaxFailures > 0, "limits.login.max_failures (AURA_LIMITS_LOGIN_MAX_FAILURES): must be positive"},
		{c.Limits.Login.Window > 0, "limits.login.window (AURA_LIMITS_LOGIN_WINDOW): must be positive"},
		{c.Limits.Register.Max > 0, "limits.register.max (AURA_LIMITS_REGISTER_MAX): must be positive"},
		{c.Limits.Register.Window > 0, "limits.register.window (AURA_LIMITS_REGISTER_WINDOW): must be positive"},
		{c.Limits.Email.Interval >= 0, "limits.email.interval (AURA_LIMITS_EMAIL_INTERVAL): must not be negative"},
		{c.Limits.Upload.Max >= 0, "limits.upload.max (AURA_LIMITS_UPLOAD_MAX): must not be negative (0: no limit)"},
		{c.Limits.Upload.Window > 0, "limits.upload.window (AURA_LIMITS_UPLOAD_WINDOW): must be positive"},
		{c.Limits.Export.Max >= 0, "limits.export.max (AURA_LIMITS_EXPORT_MAX): must not be negative (0: no limit)"},
		{c.Limits.Export.Window > 0, "limits.export.window (AURA_LIMITS_EXPORT_WINDOW): must be positive"},
		{c.Limits.Messages.PerMinute >= 0, "limits.messages.per_minute (AURA_LIMITS_MESSAGES_PER_MINUTE): must not be negative (0: no limit)"},
		{c.Messages.EmailAfter > 0, "messages.email_after (AURA_MESSAGES_EMAIL_AFTER): must be positive"},
		{c.Events.Heartbeat > 0, "events.heartbeat (AURA_EVENTS_HEARTBEAT): must be positive"},
		{c.Events.SessionCheck > 0 && c.Events.SessionCheck <= 30*time.Second, "events.session_check (AURA_EVENTS_SESSION_CHECK): must be positive and at most 30s"},
		{c.Privacy.ErasureGrace > 0, "privacy.erasure_grace (AURA_PRIVACY_ERASURE_GRACE): must be positive (e.g. 720h, 30 days)"},
		{c.Alerts.EscalateAfter > 0, "alerts.escalate_after (AURA_ALERTS_ESCALATE_AFTER): must be positive (e.g. 24h)"},
		{c.Mail.Driver == "log" || c.Mail.Driver == "smtp", "mail.driver (AURA_MAIL_DRIVER): accepted: log, smtp"},
		{c.Billing.Provider == "vnpay" || c.Billing.Provider == "fake", "billing.provider (AURA_BILLING_PROVIDER): accepted: vnpay, fake"},
		{!c.Billing.Enabled || c.Billing.Provider != "fake" || c.Env != EnvProduction, "billing.provider (AURA_BILLING_PROVIDER): the fake provider settles every order unpaid; production must use vnpay"},
		{!c.Billing.Enabled || c.Billing.Provider != "vnpay" || (c.Billing.VNPay.TmnCode != "" && c.Billing.VNPay.HashSecret != ""),
			"billing.vnpay.tmn_code and billing.vnpay.hash_secret (AURA_BILLING_VNPAY_TMN_CODE, AURA_BILLING_VNPAY_HASH_SECRET): required when billing is on with vnpay"},
		{!c.Billing.Enabled || c.Billing.Provider != "vnpay" || (validHTTPURL(c.Billing.VNPay.PayURL) && validHTTPURL(c.Billing.VNPay.ReturnURL)),
			"billing.vnpay.pay_url and billing.vnpay.return_url (AURA_BILLING_VNPAY_PAY_URL, AURA_BILLING_VNPAY_RETURN_URL): required http(s) URLs when billing is on with vnpay"},
		// The log driver writes every reset and verification link to the log:
		// in production, whoever reads the logs could take over accounts.
		{c.Mail.Driver != "log" || c.Env != EnvProduction, "mail.driver (AURA_MAIL_DRIVER): the log driver writes reset and verification links to the log, " +
			"which production must not do; set AURA_MAIL_DRIVER=smtp (and SMTP_SERVER, SENDER_EMAIL, SENDER_PASSWORD)"},
		{c.Mail.RetryMaxBackoff > 0, "mail.retry_max_backoff (AURA_MAIL_RETRY_MAX_BACKOFF): must be positive"},
		{c.Mail.PollInterval > 0, "mail.poll_interval: must be positive"},
		{c.Mail.Lease > 0, "mail.lease: must be positive"},
		{c.Mail.SMTP.Port > 0 && c.Mail.SMTP.Port < 65536, "mail.smtp.port (SMTP_PORT): must be 1-65535"},
		{c.I18n.DefaultLanguage == "vi" || c.I18n.DefaultLanguage == "en", "i18n.default_language (AURA_I18N_DEFAULT_LANGUAGE): accepted: vi, en"},
		{c.Storage.URI != "", "storage.uri (AURA_STORAGE_URI): must not be empty"},
		{c.Screening.MaxImageBytes >= 1<<10 && c.Screening.MaxImageBytes <= 1<<30, "screening.max_image_bytes (AURA_SCREENING_MAX_IMAGE_BYTES): must be 1 KiB to 1 GiB"},
		{c.Screening.DecodeMemory >= 16<<20 && c.Screening.DecodeMemory <= 64<<30, "screening.decode_memory (AURA_SCREENING_DECODE_MEMORY): must be 16 MiB to 64 GiB (bytes)"},
		{c.Screening.ReportRendersPerAccount >= 1 && c.Screening.ReportRendersPerAccount <= 100, "screening.report_renders_per_account (AURA_SCREENING_REPORT_RENDERS_PER_ACCOUNT): must be 1-100"},
		{c.Intake.MaxBatchItems >= 1 && c.Intake.MaxBatchItems <= 100_000, "intake.max_batch_items (AURA_INTAKE_MAX_BATCH_ITEMS): must be 1-100000"},
		{c.Intake.MaxRequestBytes >= c.Screening.MaxImageBytes && c.Intake.MaxRequestBytes <= 1<<40,
			"intake.max_request_bytes (AURA_INTAKE_MAX_REQUEST_BYTES): must be at least screening.max_image_bytes and at most 1 TiB"},
		{c.Analysis.Workers >= 0 && c.Analysis.Workers <= 256, "analysis.workers (AURA_ANALYSIS_WORKERS): must be 0-256"},
		{c.Analysis.MaxAttempts >= 1 && c.Analysis.MaxAttempts <= 100, "analysis.max_attempts (AURA_ANALYSIS_MAX_ATTEMPTS): must be 1-100"},
		{c.Analysis.Nice >= 0 && c.Analysis.Nice <= 19, "analysis.nice (AURA_ANALYSIS_NICE): must be 0-19"},
		{c.Analysis.Lease >= time.Second, "analysis.lease (AURA_ANALYSIS_LEASE): must be at least 1s"},
		{c.Analysis.Timeout >= 0 && c.Analysis.Timeout < c.Analysis.Lease, "analysis.timeout (AURA_ANALYSIS_TIMEOUT): must be shorter than analysis.lease"},
		{c.Analysis.OutageBudget >= time.Second, "analysis.outage_budget (AURA_ANALYSIS_OUTAGE_BUDGET): must be at least 1s"},
		{c.Log.Format == "" || c.Log.Format == "json" || c.Log.Format == "text", "log.format: accepted: json, text"},
	}
	for _, ck := range checks {
		if !ck.ok {
			return fmt.Errorf("%s", ck.what)
		}
	}
	if c.Metrics.Addr != "" {
		if _, port, err := net.SplitHostPort(c.Metrics.Addr); err != nil || port == "" {
			return fmt.Errorf("metrics.addr (AURA_METRICS_ADDR): %q is not a listen address; use host:port such as 127.0.0.1:9464, or leave it empty for none", c.Metrics.Addr)
		}
	}
	if err := c.Auth.Google.validate(); err != nil {
		return err
	}
	if err := c.Storage.validate(c.Env); err != nil {
		return err
	}
	c.Privacy.PseudonymKey = strings.TrimSpace(c.Privacy.PseudonymKey)
	if k := c.Privacy.PseudonymKey; k != "" {
		if n, ok := base64Len(k); !ok || n != 32 {
			return errors.New("privacy.pseudonym_key (AURA_PRIVACY_PSEUDONYM_KEY): must be base64 of 32 bytes; make one with: openssl rand -base64 32")
		}
	}
	if u, err := url.Parse(c.Mail.FrontendURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("mail.frontend_url (FRONTEND_URL): must be an http(s) URL")
	}
	return nil
}

// validate checks the Google sign-in settings: the issuer is an https URL
// (its keys decide who may sign in, so they must not travel in the clear),
// except http on 127.0.0.1, ::1 or localhost, for an issuer that tests run
// on the same machine. Both are trimmed; an empty client_id turns the
// feature off.
func (g *GoogleConfig) validate() error {
	g.ClientID = strings.TrimSpace(g.ClientID)
	g.Issuer = strings.TrimSpace(g.Issuer)
	const what = "auth.google.issuer (AURA_AUTH_GOOGLE_ISSUER): "
	u, err := url.Parse(g.Issuer)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s%q is not an issuer URL; use https://host[/path] such as https://accounts.google.com", what, g.Issuer)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if h := u.Hostname(); h != "127.0.0.1" && h != "::1" && h != "localhost" {
			return fmt.Errorf("%s%q: must be https (http only on 127.0.0.1 or localhost, for tests)", what, g.Issuer)
		}
	default:
		return fmt.Errorf("%s%q: must be https (http only on 127.0.0.1 or localhost, for tests)", what, g.Issuer)
	}
	if len(g.ClientID) > 255 {
		return fmt.Errorf("auth.google.client_id (AURA_AUTH_GOOGLE_CLIENT_ID): at most 255 characters")
	}
	return nil
}

// keeperSchemes are the storage.keeper URL schemes; the storage package
// says which of them this build can open.
var keeperSchemes = []string{"base64key", "awskms", "gcpkms", "hashivault"}

// validate checks the encryption settings: at most one key, a key that is
// base64 of 32 bytes, a keeper URL of a known scheme, and, in production,
// a key unless allow_plaintext. Messages never repeat a key.
func (s *StorageConfig) validate(env string) error {
	s.EncryptionKey = strings.TrimSpace(s.EncryptionKey)
	s.Keeper = strings.TrimSpace(s.Keeper)
	switch {
	case s.EncryptionKey != "" && s.Keeper != "":
		return errors.New("storage.encryption_key (AURA_STORAGE_ENCRYPTION_KEY) and storage.keeper (AURA_STORAGE_KEEPER): both are set; set one")
	case s.EncryptionKey != "":
		if n, ok := base64Len(s.EncryptionKey); !ok || n != 32 {
			return errors.New("storage.encryption_key (AURA_STORAGE_ENCRYPTION_KEY): must be base64 of 32 bytes; make one with: openssl rand -base64 32")
		}
	case s.Keeper != "":
		u, err := url.Parse(s.Keeper)
		if err != nil || !slices.Contains(keeperSchemes, u.Scheme) {
			return fmt.Errorf("storage.keeper (AURA_STORAGE_KEEPER): must be a URL of %s", strings.Join(keeperSchemes, "://, ")+"://")
		}
	case env == EnvProduction && !s.AllowPlaintext:
		return errors.New("storage.encryption_key (AURA_STORAGE_ENCRYPTION_KEY): production stores patient images encrypted; set it " +
			"(openssl rand -base64 32) or storage.keeper (AURA_STORAGE_KEEPER), or set storage.allow_plaintext (AURA_STORAGE_ALLOW_PLAINTEXT=true) to store them in the clear")
	}
	return nil
}

// base64Len is the decoded length of s in standard or URL base64, padded
// or not.
func base64Len(s string) (int, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return len(b), true
		}
	}
	return 0, false
}

// validHTTPURL reports whether s is an absolute http(s) URL with a host.
func validHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// PseudonymKeyBytes is privacy.pseudonym_key decoded (nil when unset).
func (p PrivacyConfig) PseudonymKeyBytes() []byte {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(p.PseudonymKey); err == nil && len(b) > 0 {
			return b
		}
	}
	return nil
}
