package tests

import (
	"net/http"
	"testing"

	"aura/internal/testenv"
)

// TestScreeningListTakesLists: the list-valued query parameters of GET
// /api/screenings (status, riskLevel) take comma-separated values, as the
// document says (style form, explode false) and generated clients send
// them; repeated (status=a&status=b) they are one list too; an unknown
// value in a list is 400 VALIDATION_FAILED naming the parameter.
func TestScreeningListTakesLists(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		admin := makeAdmin(t, s, "admin@example.com")
		createClinic(t, s, admin, "Lists")
		p := signUp(t, s, "lists@example.com")
		_, png := fundus(t)
		img := form{image: png, filename: "f.png", partType: "image/png", fields: map[string]string{"eye": "left"}}
		var first, second screening
		upload(t, s, p.Token, img, nil).Expect(t, http.StatusAccepted, "").Data(t, &first)
		analyse(t, s)
		upload(t, s, p.Token, img, nil).Expect(t, http.StatusAccepted, "").Data(t, &second)
		a := getScreening(t, s, p.Token, first.ID)
		if a.Status == "queued" {
			t.Fatalf("the first screening was not analysed: %+v", a)
		}
		count := func(query string, invalid bool) int {
			t.Helper()
			var body any
			if invalid {
				body = testenv.Invalid(nil)
			}
			var page struct{ Items []screening }
			s.Do(t, "GET", "/api/screenings?"+query, body, p.Token).Expect(t, http.StatusOK, "").Data(t, &page)
			return len(page.Items)
		}
		for _, c := range []struct {
			query   string
			invalid bool
			want    int
		}{
			{"status=queued", false, 1},
			{"status=" + a.Status, false, 1},
			{"status=queued," + a.Status, false, 2},
			{"status=queued&status=" + a.Status, true, 2},
			{"status=reviewed,in_review", false, 0},
		} {
			if got := count(c.query, c.invalid); got != c.want {
				t.Errorf("%s: %d screenings, want %d", c.query, got, c.want)
			}
		}
		levels := 0
		if a.Analysis != nil && a.Analysis.RiskLevel != nil {
			levels = 1
			if got := count("riskLevel="+*a.Analysis.RiskLevel, false); got != 1 {
				t.Errorf("riskLevel=%s: %d screenings, want 1", *a.Analysis.RiskLevel, got)
			}
		}
		if got := count("riskLevel=low,medium,high,critical", false); got != levels {
			t.Errorf("riskLevel=low,medium,high,critical: %d screenings, want %d", got, levels)
		}
		r := s.Do(t, "GET", "/api/screenings?status=queued,bogus&riskLevel=low,", testenv.Invalid(nil), p.Token).
			Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		if d := r.Env.Details; d["status"] == "" || d["riskLevel"] == "" {
			t.Errorf("details %v: want status and riskLevel", d)
		}
	})
}
