package models

import "testing"

// TestIsOutsideAvatar: URLs of the outside avatar service, whatever their
// scheme, case or subdomain; nothing else.
func TestIsOutsideAvatar(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		"https://ui-avatars.com/api/?name=Lan":   true,
		"http://UI-AVATARS.COM./api/?name=Lan":   true,
		"//ui-avatars.com/api/?name=Lan":         true,
		"https://eu.ui-avatars.com/api/":         true,
		"https://cdn.example/ui-avatars.com.png": false,
		"https://notui-avatars.com/a.png":        false,
		"https://cdn.example/a.png":              false,
		"":                                       false,
	} {
		if got := IsOutsideAvatar(raw); got != want {
			t.Errorf("IsOutsideAvatar(%q) = %v", raw, got)
		}
	}
}
