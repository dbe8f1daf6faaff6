package billing

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"aura/models"
)

// PayRequest is what a provider needs of the payer beyond the order.
type PayRequest struct {
	IP     string
	Locale string // vn or en
	Now    time.Time
}

// Provider is a payment provider: it makes the URL the payer is sent to.
// Its confirmations arrive at its own endpoint (VNPay: the IPN). A new
// provider (PayOS, MoMo) is one more implementation.
type Provider interface {
	Name() string
	PayURL(o *models.Order, info string, r PayRequest) (string, error)
}

// Fake settles every order at once as paid, for development; it is refused
// in production.
type Fake struct{ FrontendURL string }

// Name is "fake".
func (Fake) Name() string { return "fake" }

// PayURL is the result page of the paid order.
func (f Fake) PayURL(o *models.Order, _ string, _ PayRequest) (string, error) {
	return ResultURL(f.FrontendURL, o.ID, models.OrderPaid), nil
}

// ResultURL is the frontend page the payer's browser lands on.
func ResultURL(frontend, orderID, status string) string {
	return strings.TrimRight(frontend, "/") + "/payments/result?" + url.Values{"order": {orderID}, "status": {status}}.Encode()
}

// VNPay is VNPay's payment gateway, version 2.1.0.
type VNPay struct {
	TmnCode    string
	HashSecret string
	PayURLBase string
	ReturnURL  string
}

// vnTime is VNPay's clock: Vietnam, GMT+7.
var vnTime = time.FixedZone("GMT+7", 7*3600)

// Name is "vnpay".
func (VNPay) Name() string { return "vnpay" }

// PayURL is billing.vnpay.pay_url with the signed parameters of the order.
func (v VNPay) PayURL(o *models.Order, info string, r PayRequest) (string, error) {
	locale := "vn"
	if r.Locale == "en" {
		locale = "en"
	}
	p := url.Values{
		"vnp_Version":    {"2.1.0"},
		"vnp_Command":    {"pay"},
		"vnp_TmnCode":    {v.TmnCode},
		"vnp_Amount":     {strconv.FormatInt(o.AmountVnd*100, 10)},
		"vnp_CurrCode":   {"VND"},
		"vnp_TxnRef":     {o.ID},
		"vnp_OrderInfo":  {info},
		"vnp_OrderType":  {"other"},
		"vnp_Locale":     {locale},
		"vnp_ReturnUrl":  {v.ReturnURL},
		"vnp_IpAddr":     {r.IP},
		"vnp_CreateDate": {o.CreatedAt.In(vnTime).Format("20060102150405")},
		"vnp_ExpireDate": {o.ExpiresAt.In(vnTime).Format("20060102150405")},
	}
	q := SignedQuery(p, v.HashSecret)
	sep := "?"
	if strings.Contains(v.PayURLBase, "?") {
		sep = "&"
	}
	return v.PayURLBase + sep + q, nil
}

// hashData is VNPay's signed text: the vnp_ parameters but the hash ones,
// sorted by name, each name and value URL-encoded, joined as a query.
func hashData(p url.Values) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		if k == "vnp_SecureHash" || k == "vnp_SecureHashType" || !strings.HasPrefix(k, "vnp_") || p.Get(k) == "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = url.QueryEscape(k) + "=" + url.QueryEscape(p.Get(k))
	}
	return strings.Join(parts, "&")
}

// Sign is HMAC-SHA512 of the hash data with the secret, in hex.
func Sign(p url.Values, secret string) string {
	m := hmac.New(sha512.New, []byte(secret))
	m.Write([]byte(hashData(p)))
	return hex.EncodeToString(m.Sum(nil))
}

// SignedQuery is the query of p with its vnp_SecureHash.
func SignedQuery(p url.Values, secret string) string {
	return hashData(p) + "&vnp_SecureHash=" + Sign(p, secret)
}

// Verify reports whether p carries VNPay's valid signature.
func (v VNPay) Verify(p url.Values) bool {
	got, err := hex.DecodeString(strings.ToLower(p.Get("vnp_SecureHash")))
	if err != nil || len(got) == 0 {
		return false
	}
	want, _ := hex.DecodeString(Sign(p, v.HashSecret))
	return hmac.Equal(got, want)
}

// String never shows the secret.
func (v VNPay) String() string { return fmt.Sprintf("vnpay(tmn=%s)", v.TmnCode) }
