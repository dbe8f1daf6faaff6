package notifications_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
	"aura/services/notifications"
)

// TestNewPicksLanguage: a notice is written in the language i18n.Lang
// picks (English for en and en-*, Vietnamese otherwise), with the clinic's
// name and the clock's time.
func TestNewPicksLanguage(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("ICT", 7*3600))
	clock := models.Clock(func() time.Time { return at })
	for lang, want := range map[string]string{"en": "analysed", "en-GB": "analysed", "vi": "phân tích", "": "phân tích", "fr": "phân tích"} {
		n := notifications.New(models.NoticeAnalyzed, "u", "s", "Mắt Sài Gòn", lang, clock)
		if !strings.Contains(n.Title, want) || !strings.Contains(n.Body, "Mắt Sài Gòn") {
			t.Errorf("%q: %q / %q", lang, n.Title, n.Body)
		}
		if !n.CreatedAt.Equal(at) || n.CreatedAt.Location() != time.UTC {
			t.Errorf("%q: created at %v, want %v in UTC", lang, n.CreatedAt, at)
		}
	}
}

// TestInbox: a user reads and marks their own notices; another's notice is
// NOT_FOUND and stays unread.
func TestInbox(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		st := repositories.New(testenv.OpenDB(t, e))
		ctx := testenv.Ctx(t)
		at := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
		svc := &notifications.Service{Clock: func() time.Time { return at }}
		u1, a1 := testenv.Account(t, st, "one@example.com")
		u2, a2 := testenv.Account(t, st, "two@example.com")
		n1 := notifications.New(models.NoticeAnalyzed, u1.ID, "s1", "C", "en", svc.Clock)
		n2 := notifications.New(models.NoticeReviewed, u1.ID, "s1", "C", "en", svc.Clock)
		n3 := notifications.New(models.NoticeAnalyzed, u2.ID, "s2", "C", "en", svc.Clock)
		testenv.Must(t, st.Notifications.Add(n1, n2, n3), "add")

		if _, err := svc.Read(ctx, st, a1, n3.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("read another's notice: %v", err)
		}
		got, err := svc.Read(ctx, st, a1, n1.ID)
		testenv.Must(t, err, "read")
		if got.ReadAt == nil || !got.ReadAt.Equal(at) {
			t.Fatalf("read at %v, want %v", got.ReadAt, at)
		}
		p, err := svc.List(ctx, st, a1, true, 1, 10)
		testenv.Must(t, err, "list")
		if p.Total != 1 || p.Unread != 1 || p.Items[0].ID != n2.ID {
			t.Fatalf("unread of one: %+v", p)
		}
		n, err := svc.ReadAll(ctx, st, a1)
		testenv.Must(t, err, "read all")
		if n != 1 {
			t.Fatalf("read all marked %d", n)
		}
		p, err = svc.List(ctx, st, a2, true, 1, 10)
		testenv.Must(t, err, "list two")
		if p.Unread != 1 {
			t.Fatalf("another's notice was marked: %+v", p)
		}
	})
}
