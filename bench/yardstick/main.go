// This file is a verbatim copy of the shared yardstick of AURA's request
// speed, calibrate/main.go of the project's shared perf kit (module
// aura-perf, README "The yardstick for AURA's request speed"), kept here so
// that this repository measures against it on its own. Only this comment is
// added; the code below is unchanged, and it builds against this module's
// versions of Gin, golang-jwt, pgx and go-sqlite3. `go run ./bench -scenario
// yardstick` builds and runs it; docs/performance.md says how. Keep it
// identical to the shared copy: a change here makes the ratios disagree.
//
// Command baseline is the calibration server for AURA's speed checks: the least
// a Go service must do to answer GET /api/auth/me (verify an HS256 JWT, check
// its server-side session is live, read one user and its roles by primary key) and GET /api/health (one round trip), on
// Gin with a plain driver and no ORM. AURA's figures are quoted as ratios to it.
package main

import (
	"context"
	"database/sql"
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/mattn/go-sqlite3"
)

type user struct {
	ID       string   `json:"id"`
	Email    string   `json:"email"`
	FullName string   `json:"fullName"`
	Roles    []string `json:"roles"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address")
	pg := flag.String("pg", "", "PostgreSQL URI (else SQLite)")
	sqlitePath := flag.String("sqlite", "/tmp/aura-baseline.db", "SQLite file")
	secret := flag.String("secret", "calibration-secret-0123456789abcdef", "HS256 key")
	flag.Parse()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()

	const sid = "00000000-0000-4000-8000-0000000000a1"
	var one func(ctx context.Context, id, sid string) (user, error)
	var ping func(ctx context.Context) error
	var seed func(id, email string)
	if *pg != "" {
		pool, err := pgxpool.New(context.Background(), *pg+"&pool_max_conns=10")
		if err != nil {
			log.Fatal(err)
		}
		pool.Exec(context.Background(), `CREATE TABLE IF NOT EXISTS cal_users (id text primary key, email text unique, full_name text)`)
		pool.Exec(context.Background(), `CREATE TABLE IF NOT EXISTS cal_roles (user_id text, name text, primary key (user_id, name))`)
		pool.Exec(context.Background(), `CREATE TABLE IF NOT EXISTS cal_sessions (id text primary key, user_id text, revoked_at timestamptz, expires_at timestamptz)`)
		seed = func(id, email string) {
			pool.Exec(context.Background(), `INSERT INTO cal_users VALUES ($1,$2,'Cal User') ON CONFLICT DO NOTHING`, id, email)
			pool.Exec(context.Background(), `INSERT INTO cal_roles VALUES ($1,'PATIENT') ON CONFLICT DO NOTHING`, id)
			pool.Exec(context.Background(), `INSERT INTO cal_sessions VALUES ($1,$2,NULL,now() + interval '1 day') ON CONFLICT DO NOTHING`, sid, id)
		}
		one = func(ctx context.Context, id, sid string) (user, error) {
			var u user
			err := pool.QueryRow(ctx, `SELECT u.id, u.email, u.full_name, array_agg(r.name) FROM cal_users u JOIN cal_sessions s ON s.id = $2 AND s.user_id = u.id AND s.revoked_at IS NULL AND s.expires_at > now() JOIN cal_roles r ON r.user_id = u.id WHERE u.id = $1 GROUP BY u.id`, id, sid).Scan(&u.ID, &u.Email, &u.FullName, &u.Roles)
			return u, err
		}
		ping = func(ctx context.Context) error { _, err := pool.Exec(ctx, "SELECT 1"); return err }
	} else {
		db, err := sql.Open("sqlite3", "file:"+*sqlitePath+"?_journal_mode=WAL&_busy_timeout=5000")
		if err != nil {
			log.Fatal(err)
		}
		db.Exec(`CREATE TABLE IF NOT EXISTS cal_users (id text primary key, email text unique, full_name text)`)
		db.Exec(`CREATE TABLE IF NOT EXISTS cal_roles (user_id text, name text, primary key (user_id, name))`)
		db.Exec(`CREATE TABLE IF NOT EXISTS cal_sessions (id text primary key, user_id text, revoked_at datetime, expires_at datetime)`)
		seed = func(id, email string) {
			db.Exec(`INSERT OR IGNORE INTO cal_users VALUES (?,?,'Cal User')`, id, email)
			db.Exec(`INSERT OR IGNORE INTO cal_roles VALUES (?,'PATIENT')`, id)
			db.Exec(`INSERT OR IGNORE INTO cal_sessions VALUES (?,?,NULL,?)`, sid, id, time.Now().UTC().Add(24*time.Hour))
		}
		one = func(ctx context.Context, id, sid string) (user, error) {
			var u user
			var roles string
			err := db.QueryRowContext(ctx, `SELECT u.id, u.email, u.full_name, group_concat(r.name) FROM cal_users u JOIN cal_sessions s ON s.id = ? AND s.user_id = u.id AND s.revoked_at IS NULL AND s.expires_at > ? JOIN cal_roles r ON r.user_id = u.id WHERE u.id = ? GROUP BY u.id`, sid, time.Now().UTC(), id).Scan(&u.ID, &u.Email, &u.FullName, &roles)
			u.Roles = strings.Split(roles, ",")
			return u, err
		}
		ping = func(ctx context.Context) error { _, err := db.ExecContext(ctx, "SELECT 1"); return err }
	}
	seed("00000000-0000-4000-8000-000000000001", "cal@example.org")
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "00000000-0000-4000-8000-000000000001", "sid": sid, "exp": time.Now().Add(24 * time.Hour).Unix()}).SignedString([]byte(*secret))
	log.Printf("token %s", tok)

	r.GET("/api/health", func(c *gin.Context) {
		if err := ping(c.Request.Context()); err != nil {
			c.JSON(503, gin.H{"success": false})
			return
		}
		c.JSON(200, gin.H{"success": true, "data": gin.H{"status": "ok", "db_status": true}})
	})
	r.GET("/api/auth/me", func(c *gin.Context) {
		h := strings.TrimPrefix(c.GetHeader("Authorization"), "Bearer ")
		t, err := jwt.Parse(h, func(*jwt.Token) (any, error) { return []byte(*secret), nil }, jwt.WithValidMethods([]string{"HS256"}))
		if err != nil {
			c.JSON(401, gin.H{"success": false})
			return
		}
		sub, _ := t.Claims.GetSubject()
		s, _ := t.Claims.(jwt.MapClaims)["sid"].(string)
		u, err := one(c.Request.Context(), sub, s)
		if err != nil {
			c.JSON(404, gin.H{"success": false})
			return
		}
		c.JSON(200, gin.H{"success": true, "data": u})
	})
	r.GET("/token", func(c *gin.Context) { c.String(200, tok) })
	log.Fatal(http.ListenAndServe(*addr, r))
}
