package screenings

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"aura/analysis/risk"
	"aura/models"
	"aura/repositories"
	"aura/services/audit"
	"aura/services/policy"
)

// CurrentProfile is the risk profile in force: the latest version stored,
// or the profile AURA ships when an admin never set one.
func CurrentProfile(st *repositories.Store) (risk.Profile, error) {
	p, err := st.Profiles.Current()
	if errors.Is(err, models.ErrNotFound) {
		return risk.DefaultProfile(), nil
	}
	if err != nil {
		return risk.Profile{}, err
	}
	return decodeProfile(p)
}

func decodeProfile(p *models.AnalysisProfile) (risk.Profile, error) {
	out := risk.Profile{Version: p.Version, Trends: []risk.Trend{}}
	if err := json.Unmarshal([]byte(p.RulesJSON), &out.Rules); err != nil {
		return risk.Profile{}, err
	}
	if p.TrendsJSON != nil {
		if err := json.Unmarshal([]byte(*p.TrendsJSON), &out.Trends); err != nil {
			return risk.Profile{}, err
		}
		if out.Trends == nil {
			out.Trends = []risk.Trend{}
		}
	}
	return out, nil
}

// Profile is the risk profile in force (ADMIN).
func (s *Service) Profile(ctx context.Context, st *repositories.Store, a models.Actor) (risk.Profile, error) {
	if err := policy.Can(a, policy.PermProfileManage); err != nil {
		return risk.Profile{}, err
	}
	return CurrentProfile(st)
}

// SetProfile replaces the rules and, when trends is not nil, the follow-up
// thresholds (nil keeps those in force) (ADMIN): validated, stored as the
// next version (results keep the version they were rated with), audited.
func (s *Service) SetProfile(ctx context.Context, st *repositories.Store, a models.Actor, rules []risk.Rule, trends *[]risk.Trend) (risk.Profile, error) {
	if err := policy.Can(a, policy.PermProfileManage); err != nil {
		return risk.Profile{}, err
	}
	if rules == nil {
		return risk.Profile{}, models.Invalid(map[string]string{"rules": "is required (a list, which may be empty)"})
	}
	problems := (risk.Profile{Rules: rules}).Validate()
	if trends != nil {
		if *trends == nil {
			problems = merge(problems, map[string]string{"trends": "must be a list (an empty list for no thresholds)"})
		}
		problems = merge(problems, risk.ValidateTrends(*trends))
	}
	if len(problems) > 0 {
		return risk.Profile{}, models.Invalid(problems)
	}
	raw, err := json.Marshal(rules)
	if err != nil {
		return risk.Profile{}, err
	}
	now := s.Clock.Now()
	var out risk.Profile
	err = st.Tx(func(tx *repositories.Store) error {
		cur, err := CurrentProfile(tx)
		if err != nil {
			return err
		}
		out = risk.Profile{Version: cur.Version + 1, Rules: rules, Trends: cur.Trends}
		if trends != nil {
			out.Trends = *trends
		}
		if out.Trends == nil {
			out.Trends = []risk.Trend{}
		}
		traw, err := json.Marshal(out.Trends)
		if err != nil {
			return err
		}
		if err := tx.Profiles.Add(&models.AnalysisProfile{Version: out.Version, RulesJSON: string(raw),
			TrendsJSON: ptr(string(traw)), CreatedAt: now, CreatedBy: &a.UserID}); err != nil {
			return err
		}
		return audit.Record(tx, a, models.RoleAdmin, models.AuditProfileUpdate, models.EntityProfile, strconv.Itoa(out.Version), now)
	})
	if errors.Is(err, models.ErrConflict) {
		return risk.Profile{}, models.WithMessage(models.ErrConflict, "The rules were changed at the same moment; read them again and retry")
	}
	return out, err
}

// AnalyzerUse is one analyzer version in use, with its result count.
type AnalyzerUse struct {
	Analyzer string `json:"analyzer"`
	Version  string `json:"version"`
	Results  int64  `json:"results"`
}

// Analyzers lists the analyzers and versions that recorded analyses, with
// their result counts, most results first (ADMIN); configured is the
// analyzer this instance runs.
func (s *Service) Analyzers(ctx context.Context, st *repositories.Store, a models.Actor) (items []AnalyzerUse, configured string, err error) {
	if err := policy.Can(a, policy.PermAdminConsole); err != nil {
		return nil, "", err
	}
	uses, err := st.Screenings.AnalyzerUses()
	if err != nil {
		return nil, "", err
	}
	items = make([]AnalyzerUse, len(uses))
	for i, u := range uses {
		items[i] = AnalyzerUse{Analyzer: u.Analyzer, Version: u.Version, Results: u.Results}
	}
	if s.Analyzer != nil {
		configured = s.Analyzer.Name()
	}
	return items, configured, nil
}

// merge adds b's problems to a's (either may be nil).
func merge(a, b map[string]string) map[string]string {
	if len(b) == 0 {
		return a
	}
	if a == nil {
		a = map[string]string{}
	}
	for k, v := range b {
		a[k] = v
	}
	return a
}
