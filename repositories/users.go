package repositories

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"aura/models"
)

// Users reads and writes accounts and their roles.
type Users struct{ db *gorm.DB }

// Create inserts u with the given roles. Returns models.ErrEmailTaken when the
// normalised email exists. Call it inside Store.Tx so user and roles land together.
func (r *Users) Create(u *models.User, roleNames ...string) error {
	if err := r.db.Create(u).Error; err != nil {
		err = translate(err)
		if errors.Is(err, models.ErrConflict) {
			return models.ErrEmailTaken
		}
		return err
	}
	return r.SetRoles(u, roleNames, u.CreatedAt)
}

// SetRoles replaces u's roles by roleNames and loads them into u.Roles.
// Unknown names are ignored by the caller's validation, not here: they give
// models.ErrNotFound.
func (r *Users) SetRoles(u *models.User, roleNames []string, now time.Time) error {
	var roles []models.Role
	if err := r.db.Where("name IN ?", roleNames).Order("id").Find(&roles).Error; err != nil {
		return translate(err)
	}
	if len(roles) != len(roleNames) {
		return models.ErrNotFound
	}
	// The roles held through clinic memberships stay: memberships grant and
	// take them (Members), not this list.
	if err := r.db.Where("user_id = ? AND role_id NOT IN (SELECT id FROM roles WHERE name IN ?)",
		u.ID, []string{models.RoleClinicAdmin, models.RoleTechnician}).Delete(&models.UserRole{}).Error; err != nil {
		return translate(err)
	}
	links := make([]models.UserRole, len(roles))
	for i, role := range roles {
		links[i] = models.UserRole{UserID: u.ID, RoleID: role.ID, CreatedAt: now}
	}
	if len(links) > 0 {
		if err := r.db.Clauses(clause.OnConflict{DoNothing: true}).Create(&links).Error; err != nil {
			return translate(err)
		}
	}
	var held []models.Role
	if err := r.db.Raw("SELECT ro.id, ro.name FROM roles ro JOIN user_roles ur ON ur.role_id = ro.id WHERE ur.user_id = ? ORDER BY ro.id",
		u.ID).Scan(&held).Error; err != nil {
		return translate(err)
	}
	u.Roles = held
	return nil
}

const userColumns = "u.id, u.email, u.password_hash, u.full_name, u.phone, u.avatar_url, u.email_verified, " +
	"u.email_verified_at, u.is_active, u.created_at, u.updated_at, u.lang"

// scanUserRows reads rows of userColumns followed by role id and name (both
// nullable) into users in order, grouping roles by user.
func scanUserRows(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) ([]*models.User, error) {
	var out []*models.User
	var last *models.User
	for rows.Next() {
		// Nullable columns of the User's own (pointer) fields are scanned
		// straight into them; the rest into sql.Null* values, which, unlike
		// a pointer, cost no allocation of their own.
		var u models.User
		var emailVerified, isActive sql.NullBool
		var createdAt sql.NullTime
		var roleID sql.NullInt64
		var roleName sql.NullString
		if err := rows.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.FullName, &u.Phone, &u.AvatarURL,
			&emailVerified, &u.EmailVerifiedAt, &isActive, &createdAt, &u.UpdatedAt, &u.Lang, &roleID, &roleName); err != nil {
			return nil, err
		}
		if last == nil || last.ID != u.ID {
			u.EmailVerified = emailVerified.Valid && emailVerified.Bool
			u.IsActive = !isActive.Valid || isActive.Bool
			if createdAt.Valid {
				u.CreatedAt = createdAt.Time
			}
			last = &u
			out = append(out, last)
		}
		if roleID.Valid && roleName.Valid {
			last.Roles = append(last.Roles, models.Role{ID: uint(roleID.Int64), Name: roleName.String})
		}
	}
	return out, rows.Err()
}

func (r *Users) queryWithRoles(where string, args ...any) ([]*models.User, error) {
	rows, err := r.db.Raw("SELECT "+userColumns+", ro.id, ro.name FROM users u "+
		"LEFT JOIN user_roles ur ON ur.user_id = u.id LEFT JOIN roles ro ON ro.id = ur.role_id "+
		"WHERE "+where+" ORDER BY u.created_at, u.id, ro.id", args...).Rows()
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	users, err := scanUserRows(rows)
	return users, translate(err)
}

// ByID returns the user and its roles in one round trip, or models.ErrNotFound.
func (r *Users) ByID(id string) (*models.User, error) {
	users, err := r.queryWithRoles("u.id = ?", id)
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, models.ErrNotFound
	}
	return users[0], nil
}

// ByEmailKey returns the user whose normalised email is key, or models.ErrNotFound.
func (r *Users) ByEmailKey(key string) (*models.User, error) {
	users, err := r.queryWithRoles("u.email_normalized = ?", key)
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, models.ErrNotFound
	}
	return users[0], nil
}

// ForSession returns the user of an access token in one round trip: only if
// the session is live (not revoked, not expired) and belongs to the user.
// Returns models.ErrNotFound otherwise.
//
// It runs on every authenticated request, so it goes straight to the
// session's connection pool (or transaction) with the session's context,
// skipping GORM's statement building and callbacks: 8 % of the CPU of
// GET /api/auth/me on PostgreSQL. $n placeholders in order of appearance
// mean the same on both engines.
func (r *Users) ForSession(userID, sessionID string, now time.Time) (*models.User, error) {
	var users []*models.User
	var err error
	if pool, ok := r.db.Statement.ConnPool.(*sql.DB); ok && r.db.Dialector.Name() == "postgres" {
		users, err = forSessionPgx(r.db.Statement.Context, pool, userID, sessionID, now)
	} else {
		var rows *sql.Rows
		if rows, err = r.db.Statement.ConnPool.QueryContext(r.db.Statement.Context, forSessionSQL, sessionID, now, userID); err == nil {
			users, err = scanUserRows(rows)
			_ = rows.Close()
		}
	}
	if err != nil {
		return nil, translate(err)
	}
	if len(users) == 0 {
		return nil, models.ErrNotFound
	}
	return users[0], nil
}

// forSessionPgx runs forSessionSQL on PostgreSQL through pgx itself, on a
// connection of pool (database/sql's Conn.Raw): database/sql's row reading
// over pgx set up a conversion per column and per query, a quarter of GET
// /api/auth/me's allocations. The connection, its pool, its statement cache
// and the request's context are the same as any other query's. A connection
// that turns out dead before the statement could run (pgx says it is safe
// to retry, or the server ended the backend) is discarded and the query
// runs again on another, as database/sql does for every other query: up to
// once per connection the pool may hold, so a pool whose every connection
// was ended (a database restart) is drained of them on the first request.
func forSessionPgx(ctx context.Context, pool *sql.DB, userID, sessionID string, now time.Time) ([]*models.User, error) {
	attempts := max(pool.Stats().MaxOpenConnections, 2) + 1
	for attempt := 1; ; attempt++ {
		conn, err := pool.Conn(ctx)
		if err != nil {
			return nil, err
		}
		var users []*models.User
		err = conn.Raw(func(dc any) error {
			var pc *pgx.Conn
			switch c := dc.(type) {
			case interface{ PgxConn() *pgx.Conn }: // AURA's connections (database.retryConn)
				pc = c.PgxConn()
			case interface{ Conn() *pgx.Conn }: // pgx's stdlib.Conn
				pc = c.Conn()
			default:
				return fmt.Errorf("%w: %T", errNotPgx, dc)
			}
			rows, err := pc.Query(ctx, forSessionSQL, sessionID, now, userID)
			if err == nil {
				users, err = scanUserRows(rows)
				rows.Close()
			}
			if err != nil && ctx.Err() == nil && pgxRetryable(err) {
				return fmt.Errorf("%w: %w", driver.ErrBadConn, err) // database/sql discards the connection
			}
			return err
		})
		_ = conn.Close()
		if errors.Is(err, driver.ErrBadConn) && attempt < attempts {
			continue
		}
		return users, err
	}
}

var errNotPgx = errors.New("the PostgreSQL driver connection does not expose pgx")

// pgxRetryable reports whether err left the statement without effect on a
// connection that is gone: pgx's "safe to retry" (nothing was sent), or a
// backend the server ended (57P01 admin shutdown, 57P02 crash of another
// backend, 57P05 idle-session timeout).
func pgxRetryable(err error) bool {
	if pgconn.SafeToRetry(err) {
		return true
	}
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P05")
}

var forSessionSQL = "SELECT " + userColumns + ", ro.id, ro.name FROM users u " +
	"JOIN sessions s ON s.id = $1 AND s.user_id = u.id AND s.revoked_at IS NULL AND s.expires_at > $2 " +
	"LEFT JOIN user_roles ur ON ur.user_id = u.id LEFT JOIN roles ro ON ro.id = ur.role_id " +
	"WHERE u.id = $3 ORDER BY ur.role_id"

// Page is one page of a user listing.
type Page struct {
	Items []*models.User
	Total int64
}

// List returns users whose email or name contains q (case-insensitively),
// oldest first, with their roles.
func (r *Users) List(q string, page, pageSize int) (Page, error) {
	where, args := "1 = 1", []any{}
	if q = strings.TrimSpace(q); q != "" {
		pat := "%" + escapeLike(strings.ToLower(q)) + "%"
		where = "(u.email_normalized LIKE ? ESCAPE '\\' OR LOWER(COALESCE(u.full_name, '')) LIKE ? ESCAPE '\\')"
		args = []any{pat, pat}
	}
	var p Page
	if err := r.db.Raw("SELECT COUNT(*) FROM users u WHERE "+where, args...).Scan(&p.Total).Error; err != nil {
		return p, translate(err)
	}
	var ids []string
	if err := r.db.Raw("SELECT u.id FROM users u WHERE "+where+" ORDER BY u.created_at, u.id LIMIT ? OFFSET ?",
		append(args, pageSize, (page-1)*pageSize)...).Scan(&ids).Error; err != nil {
		return p, translate(err)
	}
	if len(ids) == 0 {
		p.Items = []*models.User{}
		return p, nil
	}
	users, err := r.queryWithRoles("u.id IN ?", ids)
	p.Items = users
	return p, err
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Changes is a typed update of a user: nil (or an unset Opt) leaves a
// column as it is; a null Opt clears it.
type Changes struct {
	FullName     *string
	Phone        models.Opt[string]
	AvatarURL    models.Opt[string]
	PasswordHash *string
	IsActive     *bool
	Lang         *string
	// EmailVerifiedAt marks the email verified at that time.
	EmailVerifiedAt *time.Time
}

func (c Changes) columns() map[string]any {
	cols := map[string]any{}
	if c.FullName != nil {
		cols["full_name"] = *c.FullName
	}
	optColumn(cols, "phone", c.Phone)
	optColumn(cols, "avatar_url", c.AvatarURL)
	if c.PasswordHash != nil {
		cols["password_hash"] = *c.PasswordHash
	}
	if c.IsActive != nil {
		cols["is_active"] = *c.IsActive
	}
	if c.Lang != nil {
		cols["lang"] = *c.Lang
	}
	if c.EmailVerifiedAt != nil {
		cols["email_verified"] = true
		cols["email_verified_at"] = *c.EmailVerifiedAt
	}
	return cols
}

func optColumn[T any](cols map[string]any, name string, o models.Opt[T]) {
	switch {
	case !o.Set:
	case o.Null:
		cols[name] = nil
	default:
		cols[name] = o.Value
	}
}

// Update applies ch to user id at now. Returns models.ErrNotFound when no
// such user exists.
func (r *Users) Update(id string, ch Changes, now time.Time) error {
	cols := ch.columns()
	if len(cols) == 0 {
		return nil
	}
	cols["updated_at"] = &now
	res := r.db.Model(&models.User{}).Where("id = ?", id).Updates(cols)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return models.ErrNotFound
	}
	return nil
}

// LockAdmins serialises the transactions that may remove an active admin:
// on PostgreSQL it locks the ADMIN role row until the transaction ends (SQLite
// transactions are already serialised by BEGIN IMMEDIATE). Call it inside
// Store.Tx before reading CountActiveAdmins.
func (r *Users) LockAdmins() error {
	if r.db.Dialector.Name() != "postgres" {
		return nil
	}
	var id uint
	return translate(r.db.Raw("SELECT id FROM roles WHERE name = ? FOR UPDATE", models.RoleAdmin).Scan(&id).Error)
}

// CountActiveAdmins counts active users holding ADMIN.
func (r *Users) CountActiveAdmins() (int64, error) {
	var n int64
	err := r.db.Raw(`SELECT COUNT(*) FROM users u JOIN user_roles ur ON ur.user_id = u.id
		JOIN roles r ON r.id = ur.role_id WHERE r.name = ? AND u.is_active = ?`, models.RoleAdmin, true).Scan(&n).Error
	return n, translate(err)
}

// SetPasswordHash replaces the stored hash when it is still old; a concurrent
// change of password wins over an upgrade at login.
func (r *Users) SetPasswordHash(id, oldHash, newHash string) error {
	return translate(r.db.Model(&models.User{}).Where("id = ? AND password_hash = ?", id, oldHash).
		Update("password_hash", newHash).Error)
}
