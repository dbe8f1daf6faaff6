package apidoc

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestLoads(t *testing.T) {
	if err := Load(); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(JSON().Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v", doc["openapi"])
	}
	if !strings.Contains(string(Page().Body), `src="/api/docs/swagger-ui-bundle.js"`) {
		t.Fatal("the page does not load Swagger UI")
	}
}
