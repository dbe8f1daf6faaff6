package accounts

import (
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"aura/models"
	"aura/security"
)

// CheckName returns why s (trimmed) is not an acceptable name, or "": the
// one text rule (models.CheckText), one line of at most 255 characters.
// Invisible characters would reorder or hide text in mail greetings and
// admin lists.
func CheckName(s string) string {
	return models.CheckText(strings.TrimSpace(s), 0, 255, false)
}

// ValidPhone is the one rule of a phone number (an account's, a
// clinic's): at most 32 characters, at least 3 digits, and only digits,
// spaces and + - ( ) .
func ValidPhone(p string) bool { return validPhone(p) }

func validPhone(p string) bool {
	if utf8.RuneCountInString(p) > 32 {
		return false
	}
	digits := 0
	for _, r := range p {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune(" +-().", r):
		default:
			return false
		}
	}
	return digits >= 3
}

// badAvatar is why an avatar URL is refused.
const badAvatar = "must be an https URL of at most 255 characters, without credentials, on a public host"

// validAvatar accepts an avatar picture's URL: https only (browsers of the
// front end load it, so no mixed content), no userinfo (no credentials, and
// no "https://trusted@evil" lookalikes), and not a host that names the
// viewer's own machine or network: "localhost" (and *.localhost), or an IP
// literal that is loopback, private, link-local, unspecified, multicast or
// shared (CGNAT) space. A host whose last label is a number is an IP literal
// to browsers (WHATWG URL: 2130706433, 0x7f.1 and 127.1 all mean 127.0.0.1),
// so it must be a canonical dotted quad to be judged, else it is refused.
func validAvatar(s string) bool {
	if len(s) > 255 || strings.ContainsFunc(s, models.Invisible) || strings.ContainsAny(s, "\\ ") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Opaque != "" || u.User != nil || u.Host == "" {
		return false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	if strings.HasPrefix(u.Host, "[") {
		return publicIP(host)
	}
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last != "" && (strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x")) {
		return publicIP(host)
	}
	return true
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// publicIP reports whether s is an IP address (canonical form) that is
// reachable on the public internet, as far as its range tells.
func publicIP(s string) bool {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || cgnat.Contains(ip) ||
		(ip.Is4() && ip.As4()[0] == 0))
}

// Roles checks a list of role names (exactly as the contract spells them)
// and returns them without duplicates, in the given order; the message says
// what is wrong, or is "".
func Roles(names []string) ([]string, string) {
	var out []string
	for _, r := range names {
		if r != models.RolePatient && r != models.RoleDoctor && r != models.RoleAdmin {
			return nil, "each role must be one of PATIENT, DOCTOR, ADMIN"
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, "must name at least one role"
	}
	return out, ""
}

// required names, in VALIDATION_FAILED details, each field left empty; nil
// when every one is present.
func required(fields map[string]string) map[string]string {
	var missing map[string]string
	for name, v := range fields {
		if v == "" {
			if missing == nil {
				missing = map[string]string{}
			}
			missing[name] = "is required"
		}
	}
	return missing
}

// newPasswordProblems applies the password policy and the confirmation.
func (s *Service) newPasswordProblems(pw, confirm string, u *models.User) map[string]string {
	details := map[string]string{}
	if msg := security.CheckPassword(pw, u.Email, DisplayName(u), s.Settings.PasswordMinLength); msg != "" {
		details["newPassword"] = msg
	}
	if confirm != pw {
		details["confirmPassword"] = "does not match newPassword"
	}
	return details
}

// DisplayName is the user's name, or the local part of their email.
func DisplayName(u *models.User) string {
	if u.FullName != nil && *u.FullName != "" {
		return *u.FullName
	}
	return localPart(u.Email)
}

func localPart(email string) string {
	l, _, _ := strings.Cut(email, "@")
	return l
}

// emailKey is the normalised (unique) form of u's email.
func emailKey(u *models.User) string {
	if _, key, err := models.NormalizeEmail(u.Email); err == nil {
		return key
	}
	return strings.ToLower(u.Email)
}
