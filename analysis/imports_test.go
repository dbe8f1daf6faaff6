package analysis

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSelfContained: the analysis packages import nothing of AURA but
// aura/analysis itself, aura/vocab (the contract's words), aura/imaging
// (decoding within bounded memory) and aura/fault (the one classification
// of errors), so that the job worker, the API and tests can all use
// them without crossing the layers (docs/architecture.md).
func TestSelfContained(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 3 {
		t.Fatalf("go list found %d packages, want analysis, risk and vessels", len(lines))
	}
	for _, line := range lines {
		fields := strings.Fields(line)
		for _, imp := range fields[1:] {
			if (imp == "aura" || strings.HasPrefix(imp, "aura/")) && imp != "aura/analysis" && imp != "aura/vocab" && imp != "aura/imaging" && imp != "aura/fault" {
				t.Errorf("%s imports %s: the analysis packages import only aura/analysis, aura/vocab, aura/imaging and aura/fault of AURA", fields[0], imp)
			}
		}
	}
}
