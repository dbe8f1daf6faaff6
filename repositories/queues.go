package repositories

import (
	"slices"
	"sort"
	"time"

	"gorm.io/gorm"

	"aura/models"
)

// queueCounts is one row of the counts below.
type queueCounts struct {
	Kind                    string
	Ready, Delayed, Running int64
}

// queueStats counts the unfinished rows of table (where open holds) by
// state at now, grouped by the column group (all as one queue named kind
// when group is ""), and finds the oldest ready row of each group.
func queueStats(db *gorm.DB, table, group, kind, open string, now time.Time) ([]models.QueueStats, error) {
	const (
		leased = "locked_until IS NOT NULL AND locked_until > @now"
		free   = "(locked_until IS NULL OR locked_until <= @now)"
	)
	sel, by := group, " GROUP BY "+group
	if group == "" {
		sel, by = "'"+kind+"'", ""
	}
	var rows []queueCounts
	err := db.Raw("SELECT "+sel+" AS kind, "+
		"COALESCE(SUM(CASE WHEN "+leased+" THEN 1 ELSE 0 END), 0) AS running, "+
		"COALESCE(SUM(CASE WHEN "+free+" AND next_attempt_at <= @now THEN 1 ELSE 0 END), 0) AS ready, "+
		"COALESCE(SUM(CASE WHEN "+free+" AND next_attempt_at > @now THEN 1 ELSE 0 END), 0) AS delayed "+
		"FROM "+table+" WHERE "+open+by, map[string]any{"now": now}).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]models.QueueStats, 0, len(rows))
	for _, r := range rows {
		st := models.QueueStats{Kind: r.Kind, Ready: r.Ready, Delayed: r.Delayed, Running: r.Running}
		if r.Ready > 0 {
			var oldest []time.Time
			q := db.Table(table).Where(open+" AND "+free+" AND next_attempt_at <= @now", map[string]any{"now": now})
			if group != "" {
				q = q.Where(group+" = ?", r.Kind)
			}
			if err := q.Order("next_attempt_at").Limit(1).Pluck("next_attempt_at", &oldest).Error; err != nil {
				return nil, translate(err)
			}
			if len(oldest) == 1 {
				st.OldestReady = &oldest[0]
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// QueueStats counts what waits in every queue at now: the jobs table by
// kind (analyze always, at 0 when empty) and the mail outbox (as
// models.QueueMail), sorted by kind.
func (s *Store) QueueStats(now time.Time) ([]models.QueueStats, error) {
	jobs, err := queueStats(s.db, "jobs", "kind", "", "finished_at IS NULL", now)
	if err != nil {
		return nil, err
	}
	mail, err := queueStats(s.db, "outbox", "", models.QueueMail, "sent_at IS NULL AND dropped_at IS NULL", now)
	if err != nil {
		return nil, err
	}
	out := append(jobs, mail...)
	if !slices.ContainsFunc(out, func(q models.QueueStats) bool { return q.Kind == models.JobAnalyze }) {
		out = append(out, models.QueueStats{Kind: models.JobAnalyze})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out, nil
}
