// Command auraclientcheck uses the Go client that oapi-codegen generates
// from AURA's served OpenAPI document (into ./client, by tests/clients_test.go;
// the generated code is never committed): it signs up and in, uploads a
// fundus image, reads the screening back and lists it with a comma-separated
// status filter. It prints one JSON line of what it saw and exits non-zero
// on any surprise. It is a module of its own so that the generator and its
// runtime stay out of AURA's go.mod.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"slices"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"auraclientcheck/client"
)

func main() {
	base := flag.String("base", "", "the API's base URL, http://host:port/api")
	image := flag.String("image", "", "a PNG fundus photograph")
	email := flag.String("email", "", "a new account's email")
	flag.Parse()
	out, err := run(*base, *image, *email)
	if err != nil {
		fmt.Fprintln(os.Stderr, "auraclientcheck:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

type result struct {
	UserID      string `json:"userId"`
	ScreeningID string `json:"screeningId"`
	Status      string `json:"status"`
	Listed      bool   `json:"listed"`
	Filtered    bool   `json:"filteredOut"`
}

func run(base, imagePath, email string) (*result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.NewClientWithResponses(base, client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	if err != nil {
		return nil, err
	}
	const password = "generated-client-Secret-42"
	name := "Go Client"
	reg, err := c.RegisterWithResponse(ctx, client.RegisterJSONRequestBody{Email: email, Password: password, FullName: &name})
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	if reg.JSON201 == nil {
		return nil, fmt.Errorf("register: %d %s", reg.StatusCode(), reg.Body)
	}
	login, err := c.LoginWithResponse(ctx, client.LoginJSONRequestBody{Email: email, Password: password})
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if login.JSON200 == nil {
		return nil, fmt.Errorf("login: %d %s", login.StatusCode(), login.Body)
	}
	s := login.JSON200.Data
	if s.TokenType != "Bearer" || s.User.Id != reg.JSON201.Data.User.Id || !slices.ContainsFunc(s.Roles, func(r client.Role) bool { return string(r.Name) == "PATIENT" }) {
		return nil, fmt.Errorf("login: unexpected session %+v", s)
	}
	auth := func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+s.AccessToken)
		return nil
	}

	// The multipart body, typed by the generator: the file part is
	// format: binary, hence openapi_types.File.
	img, err := os.ReadFile(imagePath)
	if err != nil {
		return nil, err
	}
	var file openapi_types.File
	file.InitFromBytes(img, "fundus.png")
	eye := client.UploadScreeningMultipartBodyEyeLeft // optional only for a DICOM file with a laterality
	form := client.UploadScreeningMultipartRequestBody{Eye: &eye, Image: file}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Disposition": {`form-data; name="image"; filename="` + form.Image.Filename() + `"`},
		"Content-Type":        {"image/png"},
	})
	if err != nil {
		return nil, err
	}
	b, err := form.Image.Bytes()
	if err != nil {
		return nil, err
	}
	_, _ = part.Write(b)
	_ = mw.WriteField("eye", string(*form.Eye))
	_ = mw.Close()
	key := "go-client-" + email
	up, err := c.UploadScreeningWithBodyWithResponse(ctx, &client.UploadScreeningParams{IdempotencyKey: &key}, mw.FormDataContentType(), &body, auth)
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	if up.JSON202 == nil {
		return nil, fmt.Errorf("upload: %d %s", up.StatusCode(), up.Body)
	}
	id := up.JSON202.Data.Id

	got, err := c.GetScreeningWithResponse(ctx, id, auth)
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if got.JSON200 == nil {
		return nil, fmt.Errorf("get: %d %s", got.StatusCode(), got.Body)
	}
	sc := got.JSON200.Data
	if sc.Id != id || sc.Eye != client.ScreeningEyeLeft || sc.Image.Width < 256 || sc.Patient.UserId == nil || *sc.Patient.UserId != s.User.Id || sc.Patient.Id != s.User.Id {
		return nil, fmt.Errorf("get: unexpected screening %+v", sc)
	}

	// A list-valued query parameter, sent as the generator serialises it
	// (style form, explode false: status=a,b,c).
	open := []client.ScreeningStatus{client.Queued, client.Processing, client.AwaitingReview, client.Failed}
	list, err := c.ListScreeningsWithResponse(ctx, &client.ListScreeningsParams{Status: &open}, auth)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	if list.JSON200 == nil {
		return nil, fmt.Errorf("list: %d %s", list.StatusCode(), list.Body)
	}
	done := []client.ScreeningStatus{client.Reviewed, client.InReview}
	other, err := c.ListScreeningsWithResponse(ctx, &client.ListScreeningsParams{Status: &done}, auth)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	if other.JSON200 == nil {
		return nil, fmt.Errorf("list: %d %s", other.StatusCode(), other.Body)
	}
	has := func(items []client.Screening) bool {
		return slices.ContainsFunc(items, func(x client.Screening) bool { return x.Id == id })
	}
	return &result{UserID: s.User.Id.String(), ScreeningID: id.String(), Status: string(sc.Status),
		Listed: has(list.JSON200.Data.Items), Filtered: !has(other.JSON200.Data.Items)}, nil
}
