package storage

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidKey is wrapped by every error about a refused object key or id.
// Those errors never repeat the refused text: a key that fails the rules may
// be exactly the personal data (a name, an email) that must not reach a log.
var ErrInvalidKey = errors.New("storage: invalid key")

// maxKeyLen keeps keys well under S3's 1024-byte limit and any file system's
// path limit once joined to the data directory.
const maxKeyLen = 512

// Suffixes that the file store uses for its own files next to an object: a
// key ending in one of them could overwrite or shadow that bookkeeping.
var reservedSuffixes = []string{".attrs", ".tmp"}

// ValidateKey returns nil when key is a well-formed object key, or an error
// wrapping ErrInvalidKey that says which rule failed (never the key itself).
//
// A key is 1 to 512 bytes of [a-z0-9-/._], split by "/" into segments that
// each start with a letter or digit (so no "", ".", ".." or hidden segment,
// no leading, trailing or double "/"), and it does not end in ".attrs" or
// ".tmp". Upper case, spaces and "@" are refused, so a key cannot carry a
// name or an email, and it can never leave the store's directory or bucket.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(key) > maxKeyLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, maxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if !keyByte(key[i]) {
			return fmt.Errorf("%w: byte %d is not one of [a-z0-9-/._]", ErrInvalidKey, i+1)
		}
	}
	for n, seg := range strings.Split(key, "/") {
		if seg == "" {
			return fmt.Errorf("%w: segment %d is empty (leading, trailing or double \"/\")", ErrInvalidKey, n+1)
		}
		if !alnum(seg[0]) {
			return fmt.Errorf("%w: segment %d does not start with a letter or digit", ErrInvalidKey, n+1)
		}
	}
	for _, s := range reservedSuffixes {
		if strings.HasSuffix(key, s) {
			return fmt.Errorf("%w: the suffix %q is reserved for the file store", ErrInvalidKey, s)
		}
	}
	return nil
}

// ScreeningImageKey returns the key of a screening's fundus image,
// "screenings/<first two characters of id>/<id>/image.<ext>", for example
// "screenings/3f/3f2a…/image.jpg".
//
// screeningID must be a UUID in canonical lower-case form (as every AURA id
// is): the key then holds nothing about the patient. ext is the file type
// with or without its dot, 1 to 8 letters or digits, folded to lower case
// (".JPG" gives "image.jpg"). On a bad id or extension it returns "" and an
// error wrapping ErrInvalidKey.
func ScreeningImageKey(screeningID, ext string) (string, error) {
	dir, err := screeningDir(screeningID)
	if err != nil {
		return "", err
	}
	ext = strings.ToLower(strings.TrimPrefix(ext, "."))
	if ext == "" || len(ext) > 8 {
		return "", fmt.Errorf("%w: image extension must be 1 to 8 letters or digits", ErrInvalidKey)
	}
	for i := 0; i < len(ext); i++ {
		if !alnum(ext[i]) {
			return "", fmt.Errorf("%w: image extension must be 1 to 8 letters or digits", ErrInvalidKey)
		}
	}
	return dir + "image." + ext, nil
}

// VesselMapKey returns the key of a screening's vessel map (always a PNG),
// "screenings/<first two characters of id>/<id>/vessels.png". The id rule is
// ScreeningImageKey's; on a bad id it returns "" and an error wrapping
// ErrInvalidKey.
func VesselMapKey(screeningID string) (string, error) {
	dir, err := screeningDir(screeningID)
	if err != nil {
		return "", err
	}
	return dir + "vessels.png", nil
}

// AVMapKey returns the key of a screening's artery/vein map (a PNG),
// "screenings/<id[:2]>/<id>/av.png"; the id rule is VesselMapKey's.
func AVMapKey(screeningID string) (string, error) {
	dir, err := screeningDir(screeningID)
	if err != nil {
		return "", err
	}
	return dir + "av.png", nil
}

// OverlayKey returns the key of a screening's overlay (a JPEG),
// "screenings/<id[:2]>/<id>/overlay.jpg"; the id rule is VesselMapKey's.
func OverlayKey(screeningID string) (string, error) {
	dir, err := screeningDir(screeningID)
	if err != nil {
		return "", err
	}
	return dir + "overlay.jpg", nil
}

// screeningDir is "screenings/<id[:2]>/<id>/": the two-character level keeps
// any one directory of the file store to a few hundred entries.
func screeningDir(id string) (string, error) {
	if !isUUID(id) {
		return "", fmt.Errorf("%w: screening id must be a lower-case UUID", ErrInvalidKey)
	}
	return "screenings/" + id[:2] + "/" + id + "/", nil
}

// isUUID reports whether s is xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx in
// lower-case hex (any version).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			c := s[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

func keyByte(c byte) bool {
	return alnum(c) || c == '-' || c == '/' || c == '.' || c == '_'
}

// ReportKey returns the key of a screening's rendered PDF report for one
// state of it, "screenings/<id[:2]>/<id>/report-<fingerprint>.pdf", and
// ReportPrefix the prefix all of that screening's reports share.
// fingerprint is 1 to 64 lower-case hex digits naming the state the report
// shows. On a bad id or fingerprint it returns "" and an error wrapping
// ErrInvalidKey.
func ReportKey(screeningID, fingerprint string) (string, error) {
	prefix, err := ReportPrefix(screeningID)
	if err != nil {
		return "", err
	}
	if fingerprint == "" || len(fingerprint) > 64 || strings.Trim(fingerprint, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%w: report fingerprint must be 1 to 64 hex digits", ErrInvalidKey)
	}
	return prefix + fingerprint + ".pdf", nil
}

// ReportPrefix is the prefix of a screening's report keys.
func ReportPrefix(screeningID string) (string, error) {
	dir, err := screeningDir(screeningID)
	if err != nil {
		return "", err
	}
	return dir + "report-", nil
}
