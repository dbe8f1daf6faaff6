package fault

import (
	"errors"
	"fmt"
	"testing"
)

// TestClasses: each mark survives wrapping, keeps its text, and a permanent
// fault wins over an outage whichever wraps which.
func TestClasses(t *testing.T) {
	base := errors.New("boom")
	perm := fmt.Errorf("analyzer: %w", Permanent(base))
	out := fmt.Errorf("load: %w", Outage("storage", base))
	if !IsPermanent(perm) || IsOutage(perm) || perm.Error() != "analyzer: boom" || !errors.Is(perm, base) {
		t.Fatalf("permanent: %v", perm)
	}
	if what, ok := OutageOf(out); !ok || what != "storage" || IsPermanent(out) || out.Error() != "load: storage unavailable: boom" || !errors.Is(out, base) {
		t.Fatalf("outage: %v %q", out, what)
	}
	if IsPermanent(base) || IsOutage(base) {
		t.Fatal("an unmarked error is ordinary")
	}
	if err := Outage("database", Permanent(base)); !IsPermanent(err) || IsOutage(err) {
		t.Fatalf("an outage of a permanent fault: %v", err)
	}
	if err := Permanent(Outage("database", base)); !IsPermanent(err) || IsOutage(err) {
		t.Fatalf("a permanent outage: %v", err)
	}
	if err := Outage("database", out); err != out {
		t.Fatalf("an outage marked twice: %v", err)
	}
	if Permanent(nil) != nil || Outage("storage", nil) != nil {
		t.Fatal("nil stays nil")
	}
}
