package tests

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"aura/database"
	"aura/internal/testenv"
)

// TestDefaultAvatarIsAURAs: an account without a picture of its own shows
// AURA's initials avatar, a path on AURA that carries no name, served as an
// SVG without a token (for <img>), revalidated by its ETag; the outside
// avatar service is refused as a picture.
func TestDefaultAvatarIsAURAs(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		s := testenv.Start(t, testenv.Config(t, e.URI(t), nil))
		var a session
		s.Do(t, "POST", "/api/auth/register", map[string]any{"email": "thi.nguyen@example.com", "password": goodPassword, "fullName": "Nguyễn Thị Lan"}, "").
			Expect(t, http.StatusCreated, "").Data(t, &a)
		want := "/api/users/" + a.User.ID + "/avatar.svg"
		if a.User.Avatar != want {
			t.Fatalf("avatar %q, want %q", a.User.Avatar, want)
		}
		for _, leak := range []string{"ui-avatars", "name=", "Lan", "NL", "Nguy"} {
			if strings.Contains(a.User.Avatar, leak) {
				t.Fatalf("avatar URL %q carries %q", a.User.Avatar, leak)
			}
		}
		status, h, body := avatarGet(t, s, want, nil)
		svg := string(body)
		if ct := h.Get("Content-Type"); status != http.StatusOK || ct != "image/svg+xml" || !strings.HasPrefix(svg, "<svg ") ||
			!strings.Contains(svg, ">NL</text>") || strings.Contains(svg, "Lan") || strings.Contains(svg, "<script") {
			t.Fatalf("avatar %s: %s", ct, svg)
		}
		etag := h.Get("ETag")
		if etag == "" || h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("headers %v", h)
		}
		if status, _, _ := avatarGet(t, s, want, map[string]string{"If-None-Match": etag}); status != http.StatusNotModified {
			t.Fatalf("revalidation: %d", status)
		}
		// Same id, same colour; another name, another ETag.
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"fullName": "hoa (BS.) lê"}, a.AccessToken).Expect(t, http.StatusOK, "")
		_, h2, body2 := avatarGet(t, s, want, nil)
		if h2.Get("ETag") == etag || !strings.Contains(string(body2), ">HL</text>") {
			t.Fatalf("renamed avatar: %s %s", h2.Get("ETag"), body2)
		}
		s.Do(t, "GET", "/api/users/"+uuid.NewString()+"/avatar.svg", nil, "").Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", "/api/users/not-a-uuid/avatar.svg", nil, "").Expect(t, http.StatusNotFound, "NOT_FOUND")

		// The outside service is no picture; one's own https picture is.
		for _, bad := range []string{"https://ui-avatars.com/api/?name=Lan", "https://UI-Avatars.com./api/?name=Lan", "https://cdn.ui-avatars.com/x.png"} {
			r := s.Do(t, "PATCH", "/api/auth/me", map[string]any{"avatar": bad}, a.AccessToken).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
			if r.Env.Details["avatar"] == "" {
				t.Fatalf("%s: %s", bad, r.Body)
			}
		}
		var me struct {
			Avatar string `json:"avatar"`
		}
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"avatar": "https://cdn.example/ui-avatars.png"}, a.AccessToken).
			Expect(t, http.StatusOK, "").Data(t, &me)
		if me.Avatar != "https://cdn.example/ui-avatars.png" {
			t.Fatalf("own avatar: %q", me.Avatar)
		}
		s.Do(t, "PATCH", "/api/auth/me", map[string]any{"avatar": nil}, a.AccessToken).Expect(t, http.StatusOK, "").Data(t, &me)
		if me.Avatar != want {
			t.Fatalf("cleared avatar: %q", me.Avatar)
		}
	})
}

// TestMigrateClearsOutsideAvatars: the stored avatars of the outside avatar
// service (the first backend stored one, with the full name, per account)
// become NULL at migration, and the accounts show AURA's own; avatars the
// users set elsewhere stay; a second migration changes nothing.
func TestMigrateClearsOutsideAvatars(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		uri := e.URI(t)
		cfg := testenv.Config(t, uri, nil)
		ctx := context.Background()
		db, err := database.OpenDB(ctx, cfg, testenv.Logger(t))
		testenv.Must(t, err, "open")
		defer database.Close(db)
		testenv.Must(t, database.Migrate(ctx, db, testenv.Logger(t)), "migrate")
		rows := map[string]*string{
			"https://ui-avatars.com/api/?name=Nguy%E1%BB%85n+Th%E1%BB%8B+Lan&background=random": nil,
			"http://ui-avatars.com/api/?name=Tran+Van+Minh":                                     nil,
			"HTTPS://UI-AVATARS.COM/api/?name=Hoa":                                              nil,
			"//ui-avatars.com/api/?name=Binh":                                                   nil,
			"https://cdn.example/avatars/lan.png":                                               ptr("https://cdn.example/avatars/lan.png"),
			"https://cdn.example/ui-avatars.com.png":                                            ptr("https://cdn.example/ui-avatars.com.png"),
		}
		ids := map[string]string{}
		i := 0
		for avatar := range rows {
			i++
			id := uuid.NewString()
			ids[avatar] = id
			email := "u" + string(rune('a'+i)) + "@example.com"
			testenv.Must(t, db.Exec("INSERT INTO users (id, email, email_normalized, password_hash, full_name, avatar_url, email_verified, is_active, created_at) "+
				"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", id, email, email, "x", "Someone", avatar, true, true, time.Now().UTC()).Error, "insert")
		}
		testenv.Must(t, db.Exec("INSERT INTO users (id, email, email_normalized, password_hash, is_active, email_verified, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
			uuid.NewString(), "none@example.com", "none@example.com", "x", true, true, time.Now().UTC()).Error, "insert")
		for range 2 {
			testenv.Must(t, database.Migrate(ctx, db, testenv.Logger(t)), "migrate again")
			for avatar, want := range rows {
				var got *string
				testenv.Must(t, db.Raw("SELECT avatar_url FROM users WHERE id = ?", ids[avatar]).Scan(&got).Error, "read")
				if (got == nil) != (want == nil) || (got != nil && *got != *want) {
					t.Errorf("%s: stored %v, want %v", avatar, deref(got), deref(want))
				}
			}
			var n int64
			testenv.Must(t, db.Raw("SELECT COUNT(*) FROM users WHERE LOWER(avatar_url) LIKE ?", "%//ui-avatars.com%").Scan(&n).Error, "count")
			if n != 0 {
				t.Errorf("%d stored avatars still point at the outside service", n)
			}
		}
	})
}

// avatarGet fetches an avatar as a browser's <img> does: no token.
func avatarGet(t *testing.T, s *testenv.Server, path string, headers map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", s.URL+path, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := s.Client.Do(req)
	testenv.Must(t, err, "GET %s", path)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

func ptr(s string) *string { return &s }

func deref(p *string) string {
	if p == nil {
		return "NULL"
	}
	return *p
}
