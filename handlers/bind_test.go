package handlers

import (
	"aura/models"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

type bindInner struct {
	K int `json:"k"`
}

type bindTarget struct {
	Email    string                  `json:"email"`
	Password string                  `json:"password"`
	FullName models.Opt[string]      `json:"fullName"`
	Roles    *[]string               `json:"roles"`
	Inner    *bindInner              `json:"inner"`
	List     []bindInner             `json:"list"`
	Deep     models.Opt[[]bindInner] `json:"deep"`
}

func bindBody(t *testing.T, body string, dst any) error {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("POST", "/", strings.NewReader(body))
	c.Request.Header.Set("Content-Type", "application/json")
	return Bind(c, dst, false)
}

func TestBindRefusesKeysEqualUpToCase(t *testing.T) {
	for name, body := range map[string]string{
		"email then Email":           `{"email":"a@x.co","Email":"b@x.co","password":"p"}`,
		"Email then email":           `{"Email":"b@x.co","email":"a@x.co","password":"p"}`,
		"EMAIL and email":            `{"email":"a@x.co","EMAIL":"b@x.co"}`,
		"dotless i folds to I":       `{"email":"a@x.co","emaıl":"b@x.co"}`,
		"long s folds to S":          `{"password":"a","paſſword":"b"}`,
		"Kelvin sign folds to K":     `{"inner":{"k":1,"\u212a":2}}`,
		"Opt field":                  `{"fullName":"a","FullName":"b"}`,
		"nested object":              `{"inner":{"k":1,"K":2}}`,
		"object in a list":           `{"list":[{"k":1},{"k":1,"K":2}]}`,
		"object in an Opt list":      `{"deep":[{"k":1,"K":2}]}`,
		"object nowhere in the type": `{"email":"a@x.co","extra":{"a":1,"A":2}}`,
		"exact duplicate still":      `{"email":"a@x.co","email":"b@x.co"}`,
	} {
		t.Run(name, func(t *testing.T) {
			var dst bindTarget
			err := bindBody(t, body, &dst)
			var api *models.Error
			if !errors.As(err, &api) || api.Code != models.CodeInvalidJSON {
				t.Fatalf("got %v (decoded %+v)", err, dst)
			}
			if name != "object nowhere in the type" && !strings.Contains(api.Message, "duplicate field") {
				t.Fatalf("not refused as a duplicate: %v", api.Message)
			}
		})
	}
}

func TestBindFieldNamesAreExact(t *testing.T) {
	for body, field := range map[string]string{
		`{"EMAIL":"a@x.co","password":"p"}`: "EMAIL",
		`{"Email":"a@x.co"}`:                "Email",
		`{"emaıl":"a@x.co"}`:                "emaıl",
		`{"FULLNAME":"Lan"}`:                "FULLNAME",
		`{"inner":{"K":1}}`:                 "K",
		`{"list":[{"K":1}]}`:                "K",
		`{"deep":[{"k":1},{"K":1}]}`:        "K",
		`{"isAdmin":true}`:                  "isAdmin",
	} {
		var dst bindTarget
		err := bindBody(t, body, &dst)
		var api *models.Error
		if !errors.As(err, &api) || api.Code != models.CodeInvalidJSON || api.Details[field] != "is not a known field" {
			t.Errorf("%s: got %v %v (decoded %+v)", body, err, api, dst)
		}
	}
	if err := bindBody(t, `{"x":1}`, &struct{}{}); err == nil {
		t.Error("a key was accepted into an empty struct")
	}
}

func TestBindAcceptsExactNames(t *testing.T) {
	var dst bindTarget
	body := `{"email":"a@x.co","password":"p","fullName":null,"roles":["ADMIN"],"inner":{"k":1},"list":[{"k":2}],"deep":[{"k":3}]}`
	if err := bindBody(t, body, &dst); err != nil {
		t.Fatal(err)
	}
	if dst.Email != "a@x.co" || !dst.FullName.Set || !dst.FullName.Null || dst.Inner.K != 1 || dst.List[0].K != 2 || dst.Deep.Value[0].K != 3 {
		t.Fatalf("decoded %+v", dst)
	}
	if err := bindBody(t, `{}`, &struct{}{}); err != nil {
		t.Fatal(err)
	}
}
