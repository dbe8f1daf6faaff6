package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "github.com/mattn/go-sqlite3"    // SQLite driver for seeding
	"golang.org/x/crypto/argon2"
)

// seedPassword is the password of every seeded user: long, of unrelated
// words, so it passes AURA's policy for register as well.
const seedPassword = "violet tractor harbour quantum 7191"

func seedEmail(i int) string { return fmt.Sprintf("seed%07d@bench.example.com", i) }

// argonHash is one argon2id PHC string with AURA's production parameters,
// computed once and reused for every seeded user.
func argonHash(password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, 2, 19*1024, 1, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, 19*1024, 2, 1,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// database is one fresh database under test.
type database struct {
	engine string // sqlite or postgres
	uri    string // as AURA reads it
	drop   func()
}

// newSQLite is a file SQLite database in dir.
func newSQLite(dir string) *database {
	p := filepath.Join(dir, "aura.db")
	return &database{engine: "sqlite", uri: "sqlite:///" + p, drop: func() {}}
}

// newPostgres creates aura_bench_<random> on the server of admin and drops it
// at the end.
func newPostgres(ctx context.Context, admin string) (*database, error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", redact(admin), err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "aura_bench_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("create database: %w", err)
	}
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	return &database{engine: "postgres", uri: u.String(), drop: func() {
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}}, nil
}

func redact(uri string) string {
	if u, err := url.Parse(uri); err == nil {
		return u.Redacted()
	}
	return "(unparsable URI)"
}

// seed inserts n users (seed0000000 ... ) with one shared argon2id hash, each
// a PATIENT, in large batches straight in SQL; then ANALYZE.
func (d *database) seed(ctx context.Context, n int) error {
	hash := argonHash(seedPassword)
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if d.engine == "postgres" {
		return seedPostgres(ctx, d.uri, n, hash, created)
	}
	return seedSQLite(ctx, strings.TrimPrefix(d.uri, "sqlite:///"), n, hash, created)
}

func seedPostgres(ctx context.Context, uri string, n int, hash string, created time.Time) error {
	conn, err := pgx.Connect(ctx, uri)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	const batch = 50000
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		users := make([][]any, 0, hi-lo)
		roles := make([][]any, 0, hi-lo)
		for i := lo; i < hi; i++ {
			id := uuid.NewString()
			email := seedEmail(i)
			name := fmt.Sprintf("Seed User %d", i)
			users = append(users, []any{id, email, email, hash, name, true, true, created.Add(time.Duration(i) * time.Millisecond)})
			roles = append(roles, []any{id, int64(1), created})
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"users"},
			[]string{"id", "email", "email_normalized", "password_hash", "full_name", "email_verified", "is_active", "created_at"},
			pgx.CopyFromRows(users)); err != nil {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("copy users: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"user_roles"}, []string{"user_id", "role_id", "created_at"},
			pgx.CopyFromRows(roles)); err != nil {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("copy user_roles: %w", err)
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
	}
	_, err = conn.Exec(ctx, "VACUUM ANALYZE")
	return err
}

func seedSQLite(ctx context.Context, path string, n int, hash string, created time.Time) error {
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=OFF&_foreign_keys=on&_busy_timeout=30000")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	const rows = 1000 // 8 parameters a row: under SQLite's 32766
	userSQL := "INSERT INTO users (id, email, email_normalized, password_hash, full_name, email_verified, is_active, created_at) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?),", rows), ",")
	roleSQL := "INSERT INTO user_roles (user_id, role_id, created_at) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, 1, ?),", rows), ",")
	const perTx = 100000
	for lo := 0; lo < n; lo += perTx {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		insUser, err := tx.PrepareContext(ctx, userSQL)
		if err != nil {
			_ = tx.Rollback()
			return err
		}
		insRole, err := tx.PrepareContext(ctx, roleSQL)
		if err != nil {
			_ = tx.Rollback()
			return err
		}
		for b := lo; b < min(lo+perTx, n); b += rows {
			cnt := min(rows, n-b)
			uargs := make([]any, 0, 8*cnt)
			rargs := make([]any, 0, 2*cnt)
			for i := b; i < b+cnt; i++ {
				id := uuid.NewString()
				email := seedEmail(i)
				uargs = append(uargs, id, email, email, hash, fmt.Sprintf("Seed User %d", i), true, true,
					created.Add(time.Duration(i)*time.Millisecond))
				rargs = append(rargs, id, created)
			}
			us, rs := insUser, insRole
			if cnt < rows { // the last, short batch
				us, err = tx.PrepareContext(ctx, userSQL[:strings.Index(userSQL, "VALUES ")+7]+
					strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?),", cnt), ","))
				if err != nil {
					_ = tx.Rollback()
					return err
				}
				rs, err = tx.PrepareContext(ctx, roleSQL[:strings.Index(roleSQL, "VALUES ")+7]+
					strings.TrimSuffix(strings.Repeat("(?, 1, ?),", cnt), ","))
				if err != nil {
					_ = tx.Rollback()
					return err
				}
			}
			if _, err := us.ExecContext(ctx, uargs...); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("insert users: %w", err)
			}
			if _, err := rs.ExecContext(ctx, rargs...); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("insert user_roles: %w", err)
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// sqlDB opens the database with database/sql for the tool's own statements
// ($n placeholders work on both engines).
func (d *database) sqlDB() (*sql.DB, error) {
	if d.engine == "postgres" {
		return sql.Open("pgx", d.uri)
	}
	return sql.Open("sqlite3", "file:"+strings.TrimPrefix(d.uri, "sqlite:///")+"?_journal_mode=WAL&_busy_timeout=30000&_txlock=immediate")
}

// mintSessions gives n distinct random seeded users a live session straight
// in the database, as login would (a session row and the hash of its first
// refresh token), and signs their access tokens with the server's secret.
// The server under test thus does no password hashing before /me and
// /refresh are measured, so their latency and RSS are their own.
func (d *database) mintSessions(ctx context.Context, n, users int, secret string) ([]session, error) {
	if n > users {
		return nil, fmt.Errorf("need %d seeded users for %d sessions", n, n)
	}
	db, err := d.sqlDB()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	now := time.Now().UTC()
	out := make([]session, n)
	for i, idx := range mrand.Perm(users)[:n] {
		email := seedEmail(idx)
		var uid string
		if err := tx.QueryRowContext(ctx, "SELECT id FROM users WHERE email_normalized = $1", email).Scan(&uid); err != nil {
			return nil, fmt.Errorf("seeded user %s: %w", email, err)
		}
		sid, refresh := uuid.NewString(), newOpaque()
		if _, err := tx.ExecContext(ctx, "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, client_ip, user_agent) "+
			"VALUES ($1, $2, $3, $4, $5, $6, $7)", sid, uid, now, now, now.Add(7*24*time.Hour), "127.0.0.1", "aura-bench"); err != nil {
			return nil, fmt.Errorf("insert session: %w", err)
		}
		sum := sha256.Sum256([]byte(refresh))
		if _, err := tx.ExecContext(ctx, "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
			hex.EncodeToString(sum[:]), sid, now); err != nil {
			return nil, fmt.Errorf("insert refresh token: %w", err)
		}
		access, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"email": email, "roles": []string{"PATIENT"}, "user_id": uid, "sid": sid, "sub": uid,
			"iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(),
		}).SignedString([]byte(secret))
		if err != nil {
			return nil, err
		}
		out[i] = session{AccessToken: access, RefreshToken: refresh}
	}
	return out, tx.Commit()
}

func newOpaque() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
