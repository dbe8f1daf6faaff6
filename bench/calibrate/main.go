// Command calibrate is the benchmark's yardstick: the same five endpoints as
// AURA (health, me, refresh, login, register) written as plainly as Go allows,
// Gin plus database/sql with a bare driver (mattn/go-sqlite3 or pgx) and no
// ORM, on AURA's own schema. The bench tool runs it beside AURA on the same
// database so that every AURA figure is also a ratio to this one.
//
// It reads the same environment as AURA: DATABASE_URI, SECRET_KEY,
// AURA_SERVER_ADDR. It does what the contract demands and nothing more: no
// access log, no request ids, no abuse limits, no password policy; the
// argon2id work (m=19 MiB, t=2, p=1, one hash per CPU at a time) is the same.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver
	_ "github.com/mattn/go-sqlite3"    // SQLite driver
	"golang.org/x/crypto/argon2"
)

const (
	argonMemory = 19 * 1024
	argonTime   = 2
	argonKeyLen = 32
	accessTTL   = 15 * time.Minute
	refreshTTL  = 7 * 24 * time.Hour
)

type claims struct {
	Email  string   `json:"email"`
	Roles  []string `json:"roles"`
	UserID string   `json:"user_id"`
	Sid    string   `json:"sid"`
	jwt.RegisteredClaims
}

type server struct {
	db       *sql.DB
	postgres bool
	secret   []byte
	parser   *jwt.Parser
	sem      chan struct{}
}

func main() {
	uri, secret, addr := os.Getenv("DATABASE_URI"), os.Getenv("SECRET_KEY"), os.Getenv("AURA_SERVER_ADDR")
	if uri == "" || len(secret) < 32 || addr == "" {
		log.Fatal("calibrate: DATABASE_URI, SECRET_KEY (32+ bytes) and AURA_SERVER_ADDR are required")
	}
	db, pg, err := open(uri)
	if err != nil {
		log.Fatalf("calibrate: %v", err)
	}
	defer db.Close()
	s := &server{db: db, postgres: pg, secret: []byte(secret),
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(), jwt.WithLeeway(5*time.Second)),
		sem: make(chan struct{}, runtime.GOMAXPROCS(0))}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	api := r.Group("/api")
	api.GET("/health", s.health)
	api.GET("/auth/me", s.me)
	api.POST("/auth/refresh", s.refresh)
	api.POST("/auth/login", s.login)
	api.POST("/auth/register", s.register)

	srv := &http.Server{Addr: addr, Handler: r, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("calibrate: %v", err)
	}
}

// open mirrors AURA's pool per engine: file SQLite in WAL with a busy timeout,
// IMMEDIATE transactions and 8 connections; PostgreSQL with 10.
func open(uri string) (*sql.DB, bool, error) {
	if p, ok := strings.CutPrefix(uri, "sqlite:///"); ok {
		q := url.Values{}
		q.Set("_foreign_keys", "on")
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "NORMAL")
		q.Set("_busy_timeout", "30000")
		q.Set("_txlock", "immediate")
		db, err := sql.Open("sqlite3", "file:"+p+"?"+q.Encode())
		if err != nil {
			return nil, false, err
		}
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
		return db, false, db.Ping()
	}
	db, err := sql.Open("pgx", uri)
	if err != nil {
		return nil, false, err
	}
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(10)
	db.SetConnMaxLifetime(time.Hour)
	return db, true, db.Ping()
}

// q rewrites ? placeholders to $n for PostgreSQL.
func (s *server) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func fail(c *gin.Context, status int, code string) {
	c.AbortWithStatusJSON(status, gin.H{"success": false, "error": code, "code": code})
}

func ok(c *gin.Context, status int, data any) {
	c.JSON(status, gin.H{"success": true, "data": data})
}

func (s *server) health(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	engine := "sqlite"
	if s.postgres {
		engine = "postgres"
	}
	if err := s.db.PingContext(ctx); err != nil {
		fail(c, http.StatusServiceUnavailable, "UNAVAILABLE")
		return
	}
	ok(c, http.StatusOK, gin.H{"status": "ok", "db_status": true, "db_error": nil, "database": gin.H{"engine": engine}})
}

type role struct {
	ID   uint   `json:"id"`
	Name string `json:"name"`
}

type user struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	FullName      *string   `json:"fullName"`
	Phone         *string   `json:"phone"`
	Avatar        *string   `json:"avatar"`
	EmailVerified bool      `json:"emailVerified"`
	IsActive      bool      `json:"isActive"`
	CreatedAt     time.Time `json:"createdAt"`
	Roles         []role    `json:"roles"`
	hash          string
}

func (u *user) roleNames() []string {
	out := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		out[i] = r.Name
	}
	return out
}

// queryer is a *sql.DB or *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readUser reads a user and its roles in one round trip; where filters u.
func (s *server) readUser(ctx context.Context, db queryer, join, where string, args ...any) (*user, error) {
	rows, err := db.QueryContext(ctx, s.q("SELECT u.id, u.email, u.password_hash, u.full_name, u.phone, u.avatar_url, "+
		"u.email_verified, u.is_active, u.created_at, ro.id, ro.name FROM users u "+join+
		" LEFT JOIN user_roles ur ON ur.user_id = u.id LEFT JOIN roles ro ON ro.id = ur.role_id WHERE "+where+
		" ORDER BY ro.id"), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var u *user
	for rows.Next() {
		var x user
		var verified, active sql.NullBool
		var rid sql.NullInt64
		var rname sql.NullString
		if err := rows.Scan(&x.ID, &x.Email, &x.hash, &x.FullName, &x.Phone, &x.Avatar,
			&verified, &active, &x.CreatedAt, &rid, &rname); err != nil {
			return nil, err
		}
		if u == nil {
			x.EmailVerified, x.IsActive = verified.Bool, !active.Valid || active.Bool
			u = &x
		}
		if rid.Valid {
			u.Roles = append(u.Roles, role{ID: uint(rid.Int64), Name: rname.String})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if u == nil {
		return nil, sql.ErrNoRows
	}
	return u, nil
}

func (s *server) me(c *gin.Context) {
	h := c.GetHeader("Authorization")
	tok, found := strings.CutPrefix(h, "Bearer ")
	if !found {
		fail(c, http.StatusUnauthorized, "UNAUTHORIZED")
		return
	}
	var cl claims
	if _, err := s.parser.ParseWithClaims(tok, &cl, func(*jwt.Token) (any, error) { return s.secret, nil }); err != nil || cl.Sid == "" {
		fail(c, http.StatusUnauthorized, "UNAUTHORIZED")
		return
	}
	u, err := s.readUser(c.Request.Context(), s.db,
		"JOIN sessions s ON s.id = ? AND s.user_id = u.id AND s.revoked_at IS NULL AND s.expires_at > ?",
		"u.id = ?", cl.Sid, time.Now().UTC(), cl.Subject)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		fail(c, http.StatusUnauthorized, "UNAUTHORIZED")
	case err != nil:
		fail(c, http.StatusInternalServerError, "INTERNAL")
	case !u.IsActive:
		fail(c, http.StatusForbidden, "ACCOUNT_DISABLED")
	default:
		ok(c, http.StatusOK, u)
	}
}

func (s *server) hash(ctx context.Context, password string, salt []byte) ([]byte, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.sem }()
	return argon2.IDKey([]byte(password), salt, argonTime, argonMemory, 1, argonKeyLen), nil
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

func (s *server) issue(u *user, sid string, now time.Time) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims{Email: u.Email, Roles: u.roleNames(), UserID: u.ID, Sid: sid,
		RegisteredClaims: jwt.RegisteredClaims{Subject: u.ID, IssuedAt: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(accessTTL))}}).SignedString(s.secret)
}

// startSession inserts a session and its first refresh token and returns the
// session body.
func (s *server) startSession(c *gin.Context, tx *sql.Tx, u *user, now time.Time) (gin.H, error) {
	ctx := c.Request.Context()
	sid, refresh := uuid.NewString(), newToken()
	if _, err := tx.ExecContext(ctx, s.q("INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, client_ip, user_agent) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?)"), sid, u.ID, now, now, now.Add(refreshTTL), c.ClientIP(), c.Request.UserAgent()); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, s.q("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?, ?, ?)"),
		hashToken(refresh), sid, now); err != nil {
		return nil, err
	}
	access, err := s.issue(u, sid, now)
	if err != nil {
		return nil, err
	}
	return gin.H{"accessToken": access, "refreshToken": refresh, "tokenType": "Bearer",
		"expiresIn": int64(accessTTL / time.Second), "user": u, "roles": u.Roles}, nil
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	FullName string `json:"fullName"`
}

func (s *server) login(c *gin.Context) {
	var req credentials
	if err := c.ShouldBindJSON(&req); err != nil || req.Email == "" || req.Password == "" {
		fail(c, http.StatusBadRequest, "VALIDATION_FAILED")
		return
	}
	ctx := c.Request.Context()
	u, err := s.readUser(ctx, s.db, "", "u.email_normalized = ?", strings.ToLower(strings.TrimSpace(req.Email)))
	if errors.Is(err, sql.ErrNoRows) {
		fail(c, http.StatusUnauthorized, "INVALID_CREDENTIALS")
		return
	}
	if err != nil {
		fail(c, http.StatusInternalServerError, "INTERNAL")
		return
	}
	salt, key, err := decodeHash(u.hash)
	if err != nil {
		fail(c, http.StatusUnauthorized, "INVALID_CREDENTIALS")
		return
	}
	got, err := s.hash(ctx, req.Password, salt)
	if err != nil {
		fail(c, http.StatusServiceUnavailable, "UNAVAILABLE")
		return
	}
	if subtle.ConstantTimeCompare(got, key) != 1 {
		fail(c, http.StatusUnauthorized, "INVALID_CREDENTIALS")
		return
	}
	s.inTx(c, http.StatusOK, func(tx *sql.Tx, now time.Time) (any, error) { return s.startSession(c, tx, u, now) })
}

func (s *server) register(c *gin.Context) {
	var req credentials
	if err := c.ShouldBindJSON(&req); err != nil || !strings.Contains(req.Email, "@") || len(req.Password) < 12 {
		fail(c, http.StatusBadRequest, "VALIDATION_FAILED")
		return
	}
	email := strings.TrimSpace(req.Email)
	name := req.FullName
	if name == "" {
		name, _, _ = strings.Cut(email, "@")
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key, err := s.hash(c.Request.Context(), req.Password, salt)
	if err != nil {
		fail(c, http.StatusServiceUnavailable, "UNAVAILABLE")
		return
	}
	b64 := base64.RawStdEncoding
	phc := fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=1$%s$%s", argon2.Version, argonMemory, argonTime,
		b64.EncodeToString(salt), b64.EncodeToString(key))
	s.inTx(c, http.StatusCreated, func(tx *sql.Tx, now time.Time) (any, error) {
		u := &user{ID: uuid.NewString(), Email: email, FullName: &name, IsActive: true, CreatedAt: now,
			Roles: []role{{ID: 1, Name: "PATIENT"}}}
		ctx := c.Request.Context()
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO users (id, email, email_normalized, password_hash, full_name, "+
			"email_verified, is_active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
			u.ID, email, strings.ToLower(email), phc, name, false, true, now); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO user_roles (user_id, role_id, created_at) VALUES (?, 1, ?)"), u.ID, now); err != nil {
			return nil, err
		}
		return s.startSession(c, tx, u, now)
	})
}

func (s *server) refresh(c *gin.Context) {
	var req struct {
		RefreshToken string `json:"refreshToken"`
	}
	if err := c.ShouldBindJSON(&req); err != nil || req.RefreshToken == "" {
		fail(c, http.StatusBadRequest, "VALIDATION_FAILED")
		return
	}
	s.inTx(c, http.StatusOK, func(tx *sql.Tx, now time.Time) (any, error) {
		ctx := c.Request.Context()
		var sid string
		err := tx.QueryRowContext(ctx, s.q("UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL "+
			"RETURNING session_id"), now, hashToken(req.RefreshToken)).Scan(&sid)
		if err != nil {
			return nil, err // unknown or reused: 401 (reuse revocation is out of the yardstick's scope)
		}
		u, err := s.readUser(ctx, tx, "JOIN sessions s ON s.id = ? AND s.user_id = u.id AND s.revoked_at IS NULL AND s.expires_at > ?",
			"1 = 1", sid, now)
		if err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, s.q("UPDATE sessions SET last_used_at = ?, expires_at = ? WHERE id = ?"),
			now, now.Add(refreshTTL), sid); err != nil {
			return nil, err
		}
		next := newToken()
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?, ?, ?)"),
			hashToken(next), sid, now); err != nil {
			return nil, err
		}
		access, err := s.issue(u, sid, now)
		if err != nil {
			return nil, err
		}
		return gin.H{"accessToken": access, "refreshToken": next, "tokenType": "Bearer", "expiresIn": int64(accessTTL / time.Second)}, nil
	})
}

// inTx runs fn in a transaction and answers with its result.
func (s *server) inTx(c *gin.Context, status int, fn func(*sql.Tx, time.Time) (any, error)) {
	tx, err := s.db.BeginTx(c.Request.Context(), nil)
	if err != nil {
		fail(c, http.StatusServiceUnavailable, "UNAVAILABLE")
		return
	}
	defer func() { _ = tx.Rollback() }()
	out, err := fn(tx, time.Now().UTC())
	if errors.Is(err, sql.ErrNoRows) {
		fail(c, http.StatusUnauthorized, "UNAUTHORIZED")
		return
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		log.Printf("calibrate: %s: %v", c.FullPath(), err)
		fail(c, http.StatusInternalServerError, "INTERNAL")
		return
	}
	ok(c, status, out)
}

func decodeHash(s string) (salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[3] != fmt.Sprintf("m=%d,t=%d,p=1", argonMemory, argonTime) {
		return nil, nil, errors.New("unsupported hash")
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return nil, nil, err
	}
	key, err = b64.DecodeString(parts[5])
	return salt, key, err
}
