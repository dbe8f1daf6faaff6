package database

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"gorm.io/gorm"

	"aura/models"
)

// The patient record migration. Before patients without accounts existed,
// patients was keyed by user_id (the account) and screenings.patient_id
// referenced patients.user_id. Now a record has its own id (the primary key)
// and user_id is nullable and unique; screenings.patient_id references
// patients.id. A record made for an account keeps id = user_id, so existing
// rows migrate with id = user_id and no screening is rewritten.
//
// PostgreSQL changes the key in place. SQLite cannot change a primary key or
// a foreign key, so there the two tables are rebuilt: before AutoMigrate the
// old tables are renamed away (with their indexes dropped, since SQLite's
// index names are global), AutoMigrate creates the new ones, and afterwards
// the rows are copied back and the old tables dropped. Patients are copied
// before screenings, so the foreign keys (enforced on AURA's connections)
// hold at every statement. All of it runs in Migrate's transaction.

// sqliteOld is the suffix of a table renamed away for the rebuild.
const sqliteOld = "__before_records"

// preparePatientRecords runs before AutoMigrate; rebuild says whether
// finishPatientRecords has rows to copy back (SQLite).
func preparePatientRecords(tx *gorm.DB) (rebuild bool, err error) {
	m := tx.Migrator()
	if !m.HasTable("patients") {
		return false, nil
	}
	// Not Migrator().HasColumn: SQLite's matches the text of the table's
	// DDL, where "user_id" passes for "id".
	cols, err := columnNames(tx, "patients")
	if err != nil || slices.Contains(cols, "id") {
		return false, err
	}
	if tx.Dialector.Name() == "postgres" {
		return false, rekeyPatientsPostgres(tx)
	}
	for _, t := range []string{"screenings", "patients"} {
		if !m.HasTable(t) {
			continue
		}
		var idx []string
		if err := tx.Raw("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", t).
			Scan(&idx).Error; err != nil {
			return false, fmt.Errorf("indexes of %s: %w", t, err)
		}
		for _, i := range idx {
			if err := tx.Exec(`DROP INDEX "` + i + `"`).Error; err != nil {
				return false, fmt.Errorf("drop index %s: %w", i, err)
			}
		}
		if err := tx.Exec(`ALTER TABLE "` + t + `" RENAME TO "` + t + sqliteOld + `"`).Error; err != nil {
			return false, fmt.Errorf("rename %s: %w", t, err)
		}
	}
	return true, nil
}

// rekeyPatientsPostgres gives patients its id column and primary key, and
// drops the foreign keys that pointed at patients.user_id (AutoMigrate
// then adds screenings' to patients.id).
func rekeyPatientsPostgres(tx *gorm.DB) error {
	steps := []string{
		"ALTER TABLE patients ADD COLUMN id varchar(36)",
		"UPDATE patients SET id = user_id",
		"ALTER TABLE patients ALTER COLUMN id SET NOT NULL",
	}
	var fks []struct{ Conname, Tbl string }
	if err := tx.Raw("SELECT conname, conrelid::regclass::text AS tbl FROM pg_constraint " +
		"WHERE contype = 'f' AND confrelid = to_regclass('patients')").Scan(&fks).Error; err != nil {
		return fmt.Errorf("foreign keys to patients: %w", err)
	}
	for _, fk := range fks {
		steps = append(steps, fmt.Sprintf(`ALTER TABLE %s DROP CONSTRAINT "%s"`, fk.Tbl, fk.Conname))
	}
	var pk []string
	if err := tx.Raw("SELECT conname FROM pg_constraint WHERE contype = 'p' AND conrelid = to_regclass('patients')").
		Scan(&pk).Error; err != nil {
		return fmt.Errorf("primary key of patients: %w", err)
	}
	for _, name := range pk {
		steps = append(steps, fmt.Sprintf(`ALTER TABLE patients DROP CONSTRAINT "%s"`, name))
	}
	steps = append(steps, "ALTER TABLE patients ADD CONSTRAINT patients_pkey PRIMARY KEY (id)",
		"ALTER TABLE patients ALTER COLUMN user_id DROP NOT NULL")
	for _, s := range steps {
		if err := tx.Exec(s).Error; err != nil {
			return fmt.Errorf("patients records: %s: %w", s, err)
		}
	}
	return nil
}

// finishPatientRecords runs after AutoMigrate: it copies the rows of a
// SQLite rebuild back, then (both engines) fills what the new shape adds.
func finishPatientRecords(tx *gorm.DB, rebuild bool, log *slog.Logger) error {
	if rebuild {
		n, err := copyBack(tx, "patients", map[string]string{"id": "user_id"})
		if err != nil {
			return err
		}
		s, err := copyBack(tx, "screenings", nil)
		if err != nil {
			return err
		}
		for _, t := range []string{"screenings", "patients"} {
			if err := tx.Exec(`DROP TABLE "` + t + sqliteOld + `"`).Error; err != nil {
				return fmt.Errorf("drop old %s: %w", t, err)
			}
		}
		log.Info("patient records now have their own id; patients and screenings rebuilt", "patients", n, "screenings", s)
	}
	if err := backfillNameKeys(tx); err != nil {
		return err
	}
	if err := backfillEnrolments(tx); err != nil {
		return err
	}
	if tx.Dialector.Name() == "postgres" {
		trigramIndex(tx, log)
	}
	return nil
}

// trigramIndex gives PostgreSQL a trigram index on the enrolments' name
// keys (pg_trgm), so a name fragment is found without reading a clinic's
// every enrolment. It is a speed-up only: where the extension cannot be
// made (no right to create it, not installed) the migration goes on
// without it and the name search scans the (clinic_id, name_key) index.
// The extension goes to the schema public, so it outlives any one schema.
func trigramIndex(tx *gorm.DB, log *slog.Logger) {
	err := tx.Transaction(func(sp *gorm.DB) error {
		var schema []string
		q := "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
		if err := sp.Raw(q).Scan(&schema).Error; err != nil {
			return err
		}
		if len(schema) == 0 {
			if err := sp.Exec("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public").Error; err != nil {
				return err
			}
			if err := sp.Raw(q).Scan(&schema).Error; err != nil || len(schema) == 0 {
				return fmt.Errorf("pg_trgm not found after CREATE EXTENSION: %v", err)
			}
		}
		return sp.Exec(`CREATE INDEX IF NOT EXISTS idx_clinic_patients_name_trgm ON clinic_patients USING gin (name_key "` +
			schema[0] + `".gin_trgm_ops)`).Error
	})
	if err != nil {
		log.Warn("no trigram index for patient name search (pg_trgm unavailable); searching by name scans a clinic's patients", "err", err)
	}
}

// copyBack inserts the rows of table's renamed old copy into the new table:
// the columns both have, and those of from (new column: old column).
func copyBack(tx *gorm.DB, table string, from map[string]string) (int64, error) {
	old := table + sqliteOld
	if !tx.Migrator().HasTable(old) {
		return 0, nil
	}
	oldCols, err := columnNames(tx, old)
	if err != nil {
		return 0, err
	}
	newCols, err := columnNames(tx, table)
	if err != nil {
		return 0, err
	}
	var ins, sel []string
	for _, c := range newCols {
		switch {
		case from[c] != "":
			ins, sel = append(ins, `"`+c+`"`), append(sel, `"`+from[c]+`"`)
		case slices.Contains(oldCols, c):
			ins, sel = append(ins, `"`+c+`"`), append(sel, `"`+c+`"`)
		}
	}
	res := tx.Exec(`INSERT INTO "` + table + `" (` + strings.Join(ins, ", ") + `) SELECT ` + strings.Join(sel, ", ") +
		` FROM "` + old + `"`)
	if res.Error != nil {
		return 0, fmt.Errorf("copy %s back: %w", table, res.Error)
	}
	return res.RowsAffected, nil
}

// columnNames lists table's columns from the catalogue (not by a SELECT *,
// whose cached plan PostgreSQL refuses once the table changed).
func columnNames(tx *gorm.DB, table string) ([]string, error) {
	q := "SELECT name FROM pragma_table_info(?) ORDER BY cid"
	if tx.Dialector.Name() == "postgres" {
		q = "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position"
	}
	var cols []string
	if err := tx.Raw(q, table).Scan(&cols).Error; err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	return cols, nil
}

// backfillNameKeys folds the names of records whose key is not filled yet
// (records of before name search, or copied from such a database).
func backfillNameKeys(tx *gorm.DB) error {
	var rows []struct {
		ID       string
		Name     *string
		UserName *string
		Email    *string
	}
	if err := tx.Raw("SELECT p.id, p.full_name AS name, u.full_name AS user_name, COALESCE(u.email, p.email) AS email FROM patients p " +
		"LEFT JOIN users u ON u.id = p.user_id WHERE p.name_key = ''").Scan(&rows).Error; err != nil {
		return fmt.Errorf("name keys: %w", err)
	}
	for _, r := range rows {
		key := models.SearchKey(models.PatientName(r.Name, r.UserName, r.Email))
		if key == "" {
			continue
		}
		if err := tx.Exec("UPDATE patients SET name_key = ? WHERE id = ?", key, r.ID).Error; err != nil {
			return fmt.Errorf("name key of %s: %w", r.ID, err)
		}
	}
	return nil
}

// backfillEnrolments enrols every patient in the clinics they sent
// screenings to, with the latest risk level there, when no enrolment exists
// yet (a database of before enrolments): a later start finds rows and does
// nothing.
func backfillEnrolments(tx *gorm.DB) error {
	var any int64
	if err := tx.Raw("SELECT COUNT(*) FROM (SELECT 1 FROM clinic_patients LIMIT 1) x").Scan(&any).Error; err != nil {
		return fmt.Errorf("enrolments: %w", err)
	}
	if any > 0 {
		// Name keys of enrolments copied from a database of before they
		// carried one (aura db copy); a no-op otherwise.
		if err := tx.Exec("UPDATE clinic_patients SET name_key = (SELECT p.name_key FROM patients p WHERE p.id = clinic_patients.patient_id) " +
			"WHERE name_key = ''").Error; err != nil {
			return fmt.Errorf("enrolment name keys: %w", err)
		}
		return nil
	}
	if err := tx.Exec("INSERT INTO clinic_patients (clinic_id, patient_id, name_key, created_at) " +
		"SELECT s.clinic_id, s.patient_id, p.name_key, MIN(s.created_at) FROM screenings s JOIN patients p ON p.id = s.patient_id " +
		"GROUP BY s.clinic_id, s.patient_id, p.name_key").Error; err != nil {
		return fmt.Errorf("enrol patients of existing screenings: %w", err)
	}
	if err := tx.Exec("UPDATE clinic_patients SET latest_risk_level = (" + models.LatestRiskSQL("clinic_patients") + ")").Error; err != nil {
		return fmt.Errorf("latest risk levels: %w", err)
	}
	return nil
}
