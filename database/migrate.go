package database

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"aura/models"
)

// migrationLockID names AURA's PostgreSQL advisory lock ("AURA" in ASCII).
const migrationLockID = 0x41555241

// Migrate brings the schema up to date and seeds what every database needs.
// It is idempotent and safe on a database written by the first AURA backend:
// it only adds tables, columns and indexes, and fills the new columns of old
// rows (normalised email, PATIENT role, active and verified flags).
//
// Everything runs in one transaction (both engines have transactional DDL),
// so a failure leaves the schema as it was. On PostgreSQL an advisory lock
// makes instances that start together migrate one after the other; SQLite's
// IMMEDIATE transaction already does that.
func Migrate(ctx context.Context, db *gorm.DB, log *slog.Logger) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if tx.Dialector.Name() == "postgres" {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrationLockID).Error; err != nil {
				return fmt.Errorf("migration lock: %w", err)
			}
		}
		rebuild, err := preparePatientRecords(tx)
		if err != nil {
			return err
		}
		if err := tx.AutoMigrate(models.All()...); err != nil {
			return fmt.Errorf("automigrate: %w", err)
		}
		if err := finishPatientRecords(tx, rebuild, log); err != nil {
			return err
		}
		// idx_screenings_recent (created_at, id, clinic_id) replaced
		// idx_screenings_created (created_at): the newest-first listing reads
		// its page in index order, ties included, without a sort.
		if tx.Migrator().HasIndex(&models.Screening{}, "idx_screenings_created") {
			if err := tx.Migrator().DropIndex(&models.Screening{}, "idx_screenings_created"); err != nil {
				return fmt.Errorf("drop idx_screenings_created: %w", err)
			}
		}
		// idx_jobs_order (kind, priority, fair_seq, id) and idx_jobs_turn
		// (account, kind, priority, fair_seq) replaced idx_jobs_fair and
		// idx_jobs_account when batch items got a priority below single
		// uploads: the claim walks the new order in its index.
		for _, old := range []string{"idx_jobs_fair", "idx_jobs_account"} {
			if tx.Migrator().HasIndex(&models.Job{}, old) {
				if err := tx.Migrator().DropIndex(&models.Job{}, old); err != nil {
					return fmt.Errorf("drop %s: %w", old, err)
				}
			}
		}
		// One application waiting for a decision per account: a partial
		// unique index (both engines have them), so two applications filed
		// at once cannot both be pending.
		if err := tx.Exec("CREATE UNIQUE INDEX IF NOT EXISTS idx_clinics_pending_applicant ON clinics (applicant_id) WHERE status = 'pending'").Error; err != nil {
			return fmt.Errorf("create idx_clinics_pending_applicant: %w", err)
		}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&models.SeedRoles).Error; err != nil {
			return fmt.Errorf("seed roles: %w", err)
		}
		if err := migrateClinicDoctors(tx); err != nil {
			return err
		}
		if err := tx.Exec("UPDATE users SET is_active = ? WHERE is_active IS NULL", true).Error; err != nil {
			return fmt.Errorf("backfill is_active: %w", err)
		}
		if err := tx.Exec("UPDATE users SET email_verified = ? WHERE email_verified IS NULL", false).Error; err != nil {
			return fmt.Errorf("backfill email_verified: %w", err)
		}
		if err := backfillEmails(tx, log); err != nil {
			return err
		}
		if err := dropOutsideAvatars(tx, log); err != nil {
			return err
		}
		if err := openLegacyLots(tx, log); err != nil {
			return err
		}
		// Accounts without a role (those of the first backend) become patients.
		if err := tx.Exec("INSERT INTO user_roles (user_id, role_id, created_at) "+
			"SELECT u.id, ?, CURRENT_TIMESTAMP FROM users u WHERE NOT EXISTS "+
			"(SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id)", models.SeedRoles[0].ID).Error; err != nil {
			return fmt.Errorf("backfill roles: %w", err)
		}
		return nil
	})
}

// dropOutsideAvatars clears the stored avatars that point at the outside
// avatar service (the first backend stored its ui-avatars.com URL, with the
// person's full name in it, as every account's avatar): they become NULL, so
// the account shows AURA's own initials avatar and no browser sends the name
// out. Avatars the users set elsewhere stay. Idempotent: a second run finds
// nothing. The LIKE narrows the rows; models.IsOutsideAvatar decides.
func dropOutsideAvatars(tx *gorm.DB, log *slog.Logger) error {
	var rows []struct {
		ID        string
		AvatarURL string
	}
	if err := tx.Raw("SELECT id, avatar_url FROM users WHERE LOWER(avatar_url) LIKE ?", "%ui-avatars.com%").Scan(&rows).Error; err != nil {
		return fmt.Errorf("outside avatars: %w", err)
	}
	n := 0
	for _, r := range rows {
		if !models.IsOutsideAvatar(r.AvatarURL) {
			continue
		}
		if err := tx.Exec("UPDATE users SET avatar_url = NULL WHERE id = ? AND avatar_url = ?", r.ID, r.AvatarURL).Error; err != nil {
			return fmt.Errorf("clear outside avatar of %s: %w", r.ID, err)
		}
		n++
	}
	if n > 0 {
		log.Info("cleared avatars of the outside avatar service; those accounts show AURA's initials avatar", "count", n)
	}
	return nil
}

// backfillEmails fills email_normalized for rows written before it existed.
func backfillEmails(tx *gorm.DB, log *slog.Logger) error {
	var rows []struct {
		ID    string
		Email string
	}
	if err := tx.Raw("SELECT id, email FROM users WHERE email_normalized IS NULL ORDER BY created_at, id").Scan(&rows).Error; err != nil {
		return fmt.Errorf("backfill emails: %w", err)
	}
	for _, r := range rows {
		_, key, err := models.NormalizeEmail(r.Email)
		if err != nil {
			log.Warn("user email cannot be normalised; left for an admin", "user_id", r.ID)
			continue
		}
		// The first backend compared emails case-sensitively, so two of its
		// accounts may differ only in case. The oldest keeps the address; the
		// others are left without a login key for an admin to resolve, rather
		// than failing the start on the unique index.
		res := tx.Exec("UPDATE users SET email_normalized = ? WHERE id = ? AND NOT EXISTS "+
			"(SELECT 1 FROM users o WHERE o.email_normalized = ?)", key, r.ID, key)
		if res.Error != nil {
			return fmt.Errorf("backfill email of %s: %w", r.ID, res.Error)
		}
		if res.RowsAffected == 0 {
			log.Warn("user email differs only in case from another account's; this account cannot log in until an admin resolves it", "user_id", r.ID)
		}
	}
	if len(rows) > 0 {
		log.Info("normalised emails of existing users", "count", len(rows))
	}
	return nil
}

// migrateClinicDoctors moves the doctors' memberships of clinic_doctors
// (before clinic roles existed) into clinic_members as DOCTOR, then drops
// the old table, so one table says who belongs to a clinic.
func migrateClinicDoctors(tx *gorm.DB) error {
	if !tx.Migrator().HasTable("clinic_doctors") {
		return nil
	}
	if err := tx.Exec("INSERT INTO clinic_members (clinic_id, user_id, role, created_at) "+
		"SELECT cd.clinic_id, cd.user_id, ?, cd.created_at FROM clinic_doctors cd WHERE NOT EXISTS "+
		"(SELECT 1 FROM clinic_members cm WHERE cm.clinic_id = cd.clinic_id AND cm.user_id = cd.user_id AND cm.role = ?)",
		models.RoleDoctor, models.RoleDoctor).Error; err != nil {
		return fmt.Errorf("move clinic_doctors: %w", err)
	}
	if err := tx.Migrator().DropTable("clinic_doctors"); err != nil {
		return fmt.Errorf("drop clinic_doctors: %w", err)
	}
	return nil
}

// openLegacyLots puts the credits of wallets from before credit lots into a
// lot without expiry: every credit of a balance sits in a lot (the rule a
// use, a refund and an expiry follow). Idempotent: a second run finds every
// balance equal to the sum of its lots.
func openLegacyLots(tx *gorm.DB, log *slog.Logger) error {
	var rows []struct {
		ID      string
		Missing int64
	}
	if err := tx.Raw("SELECT w.id AS id, w.balance - COALESCE((SELECT SUM(l.remaining) FROM credit_lots l WHERE l.wallet_id = w.id), 0) AS missing " +
		"FROM wallets w").Scan(&rows).Error; err != nil {
		return fmt.Errorf("legacy credit lots: %w", err)
	}
	now := time.Now().UTC()
	for _, r := range rows {
		if r.Missing <= 0 {
			continue
		}
		lot := &models.CreditLot{ID: uuid.NewString(), WalletID: r.ID, Credits: r.Missing, Remaining: r.Missing, CreatedAt: now}
		if err := tx.Create(lot).Error; err != nil {
			return fmt.Errorf("legacy credit lot of wallet %s: %w", r.ID, err)
		}
		log.Info("opened a credit lot without expiry for a balance from before lots", "wallet", r.ID, "credits", r.Missing)
	}
	return nil
}
