package repositories

import (
	"strconv"
	"time"
)

// StatsFilter picks the screenings a statistic counts: created in
// [From, To), of ClinicID when set, reviewed or held by ReviewerID when
// set. Every statistic reads the index on (clinic_id, created_at), on
// (reviewer_id, created_at), or on created_at alone (all clinics).
type StatsFilter struct {
	ClinicID   string
	ReviewerID string
	From, To   time.Time
}

func (f StatsFilter) where() (string, []any) {
	cond, args := "s.created_at >= ? AND s.created_at < ?", []any{f.From, f.To}
	if f.ClinicID != "" {
		cond = "s.clinic_id = ? AND " + cond
		args = append([]any{f.ClinicID}, args...)
	}
	if f.ReviewerID != "" {
		cond = "s.reviewer_id = ? AND " + cond
		args = append([]any{f.ReviewerID}, args...)
	}
	return cond, args
}

// StatsGroup is the count of the screenings of one clinic, status and
// level (the review's level when reviewed, else the analysis's; nil
// when neither), how many of them had their analysis recorded
// (completed_at set), and how many were reviewed at the analysis's level.
type StatsGroup struct {
	ClinicID string
	Status   string
	Level    *string
	N        int64
	Analysed int64
	Agreed   int64
	// Rated counts the reviewed screenings whose analysis gave a level.
	Rated int64
}

// StatsGroups counts the screenings f picks by clinic, status and level,
// in one GROUP BY.
func (s *Store) StatsGroups(f StatsFilter) ([]StatsGroup, error) {
	cond, args := f.where()
	var out []StatsGroup
	err := s.db.Raw(`SELECT s.clinic_id, s.status, COALESCE(s.review_risk_level, s.risk_level) AS level, COUNT(*) AS n,
		SUM(CASE WHEN s.completed_at IS NOT NULL THEN 1 ELSE 0 END) AS analysed,
		SUM(CASE WHEN s.reviewed_at IS NOT NULL AND s.review_risk_level = s.risk_level THEN 1 ELSE 0 END) AS agreed,
		SUM(CASE WHEN s.reviewed_at IS NOT NULL AND s.risk_level IS NOT NULL THEN 1 ELSE 0 END) AS rated
		FROM screenings s WHERE `+cond+`
		GROUP BY s.clinic_id, s.status, COALESCE(s.review_risk_level, s.risk_level)`, args...).Scan(&out).Error
	return out, translate(err)
}

// ClinicPatients is the number of distinct patients among a clinic's
// screenings.
type ClinicPatients struct {
	ClinicID string
	N        int64
}

// StatsPatients counts the distinct patients of the screenings f picks,
// in all and per clinic.
func (s *Store) StatsPatients(f StatsFilter) (int64, []ClinicPatients, error) {
	cond, args := f.where()
	var total int64
	if err := s.db.Raw("SELECT COUNT(DISTINCT s.patient_id) FROM screenings s WHERE "+cond, args...).Scan(&total).Error; err != nil {
		return 0, nil, translate(err)
	}
	var per []ClinicPatients
	if f.ClinicID == "" {
		err := s.db.Raw("SELECT s.clinic_id, COUNT(DISTINCT s.patient_id) AS n FROM screenings s WHERE "+cond+
			" GROUP BY s.clinic_id", args...).Scan(&per).Error
		if err != nil {
			return 0, nil, translate(err)
		}
	}
	return total, per, nil
}

// Minutes between two timestamp columns of s, as SQL of the engine.
func (s *Store) minutesSQL(from, to string) string {
	if s.db.Dialector.Name() == "postgres" {
		return "EXTRACT(EPOCH FROM (s." + to + " - s." + from + "))::float8 / 60.0"
	}
	return "(julianday(s." + to + ") - julianday(s." + from + ")) * 1440.0"
}

// Percentiles of the minutes from column from to column to of the
// reviewed screenings f picks, by the nearest-rank definition: with the n
// values sorted ascending, percentile p is the value of rank ceil(p*n)
// (1-based), so the median of an even count is the lower middle value and
// every answer is one of the measured values. PostgreSQL computes it with
// percentile_disc (which is that definition), SQLite with ROW_NUMBER over
// the sorted values. ps are percents (50, 90); the answer holds nil for
// each when there is no reviewed screening.
func (s *Store) StatsPercentiles(f StatsFilter, from, to string, ps ...int) ([]*float64, error) {
	cond, args := f.where()
	cond += " AND s.reviewed_at IS NOT NULL AND s." + from + " IS NOT NULL"
	m := s.minutesSQL(from, to)
	out := make([]*float64, len(ps))
	if s.db.Dialector.Name() == "postgres" {
		q := "SELECT "
		for i, p := range ps {
			if i > 0 {
				q += ", "
			}
			q += "percentile_disc(" + strconv.FormatFloat(float64(p)/100, 'f', -1, 64) + ") WITHIN GROUP (ORDER BY " + m + ")"
		}
		rows, err := s.db.Raw(q+" FROM screenings s WHERE "+cond, args...).Rows()
		if err != nil {
			return nil, translate(err)
		}
		defer rows.Close()
		if rows.Next() {
			dest := make([]any, len(ps))
			for i := range out {
				dest[i] = &out[i]
			}
			if err := rows.Scan(dest...); err != nil {
				return nil, translate(err)
			}
		}
		return out, translate(rows.Err())
	}
	// rank ceil(p*n) = (p*n + 99) / 100 in integer arithmetic.
	var want string
	for i, p := range ps {
		if i > 0 {
			want += ", "
		}
		want += "(" + strconv.Itoa(p) + " * n + 99) / 100"
	}
	var got []struct {
		M  float64
		Rn int64
		N  int64
	}
	// The duration is computed once per row (in d), then ranked: parsing
	// the text timestamps is most of the cost.
	err := s.db.Raw(`SELECT m, rn, n FROM (SELECT m, ROW_NUMBER() OVER (ORDER BY m) AS rn, COUNT(*) OVER () AS n
		FROM (SELECT `+m+` AS m FROM screenings s WHERE `+cond+`) d) w WHERE rn IN (`+want+`)`, args...).Scan(&got).Error
	if err != nil {
		return nil, translate(err)
	}
	for _, g := range got {
		for i, p := range ps {
			if g.Rn == (int64(p)*g.N+99)/100 {
				v := g.M
				out[i] = &v
			}
		}
	}
	return out, nil
}

// AnalyzerUsesIn counts the recorded analyses of the screenings f picks
// by analyzer and version, most results first.
func (s *Store) AnalyzerUsesIn(f StatsFilter) ([]AnalyzerUse, error) {
	cond, args := f.where()
	var out []AnalyzerUse
	err := s.db.Raw(`SELECT s.analyzer, s.analyzer_version AS version, COUNT(*) AS results
		FROM screenings s WHERE `+cond+` AND s.completed_at IS NOT NULL AND s.analyzer IS NOT NULL
		GROUP BY s.analyzer, s.analyzer_version ORDER BY results DESC, s.analyzer, s.analyzer_version`, args...).Scan(&out).Error
	return out, translate(err)
}
