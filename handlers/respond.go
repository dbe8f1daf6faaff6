package handlers

import (
	"aura/i18n"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"aura/models"
)

// Machine codes of the transport's own failures (the domain's codes are
// models.Code values, mapped by statusOf).
const (
	CodeInvalidJSON      = "INVALID_JSON"
	CodeInvalidMultipart = "INVALID_MULTIPART"
	CodeRequestTimeout   = "REQUEST_TIMEOUT"
	CodeUnauthorized     = string(models.CodeUnauthorized)
	CodeNotFound         = string(models.CodeNotFound)
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	CodePayloadTooLarge  = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedMedia = "UNSUPPORTED_MEDIA_TYPE"
	CodeUnavailable      = string(models.CodeUnavailable)
	CodeInternal         = "INTERNAL"
)

// Envelope is the body of every response.
type Envelope struct {
	Success bool              `json:"success"`
	Data    any               `json:"data,omitempty"`
	Message string            `json:"message,omitempty"`
	Error   string            `json:"error,omitempty"`
	Code    string            `json:"code,omitempty"`
	Details map[string]string `json:"details,omitempty"`
}

// APIError is an error with its place in the envelope; handlers return it and
// Fail renders it.
type APIError struct {
	Status  int
	Code    string
	Message string
	Details map[string]string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Errf builds an APIError.
func Errf(status int, code, msg string) *APIError {
	return &APIError{Status: status, Code: code, Message: msg}
}

// Errors that the middleware answers with, from the domain's table.
var (
	errUnauthorized = models.ErrUnauthorized
	errForbidden    = models.ErrForbidden
	errNotFound     = models.ErrNotFound
	errInternal     = Errf(http.StatusInternalServerError, CodeInternal, "Internal server error")
	// errMultipart: an upload's body is not the multipart/form-data it
	// claims (no boundary, broken framing, cut short).
	errMultipart = Errf(http.StatusBadRequest, CodeInvalidMultipart, "The multipart body could not be read")
	// errBodyTimeout: the body did not arrive within its deadline
	// (server.upload_timeout for an upload).
	errBodyTimeout = Errf(http.StatusRequestTimeout, CodeRequestTimeout, "The request body did not arrive in time")
)

// statusOf is the one table from a domain error's code to its HTTP status.
var statusOf = map[models.Code]int{
	models.CodeValidation:         http.StatusBadRequest,
	models.CodeTokenInvalid:       http.StatusBadRequest,
	models.CodeUnauthorized:       http.StatusUnauthorized,
	models.CodeTokenReused:        http.StatusUnauthorized,
	models.CodeInvalidCredentials: http.StatusUnauthorized,
	models.CodeForbidden:          http.StatusForbidden,
	models.CodeAccountDisabled:    http.StatusForbidden,
	models.CodeNotFound:           http.StatusNotFound,
	models.CodeEmailTaken:         http.StatusConflict,
	models.CodeConflict:           http.StatusConflict,
	models.CodeRateLimited:        http.StatusTooManyRequests,
	models.CodeUnavailable:        http.StatusServiceUnavailable,
	models.CodePayloadTooLarge:    http.StatusRequestEntityTooLarge,
	models.CodeUnsupportedMedia:   http.StatusUnsupportedMediaType,
	models.CodeNotReady:           http.StatusConflict,
	models.CodeAlreadyClaimed:     http.StatusConflict,
	models.CodeNotClaimed:         http.StatusConflict,
	models.CodeInvalidState:       http.StatusConflict,
}

// fromDomain renders a domain error as its envelope, by statusOf; a code
// missing from the table is a bug, answered 500.
func fromDomain(e *models.Error) (*APIError, bool) {
	status, ok := statusOf[e.Code]
	if !ok {
		return nil, false
	}
	code := string(e.Code)
	if e.Code == models.CodeTokenReused {
		code = CodeUnauthorized
	}
	return &APIError{Status: status, Code: code, Message: e.Message, Details: e.Details}, true
}

// bind reads the request's JSON body into dst (see Bind); on failure it has
// answered and returns false.
func bind(c *gin.Context, dst any, optional bool) bool {
	if err := Bind(c, dst, optional); err != nil {
		Fail(c, err)
		return false
	}
	return true
}

// LangKey is where the language middleware keeps the request's language.
const LangKey = "aura.lang"

// OK writes a success envelope, its message in the request's language.
func OK(c *gin.Context, status int, data any, message string) {
	c.JSON(status, Envelope{Success: true, Data: data, Message: i18n.T(lang(c), message)})
}

// translated is api's human texts in the request's language; codes and
// field names stay as they are.
func translated(c *gin.Context, api *APIError) Envelope {
	l := lang(c)
	env := Envelope{Error: i18n.T(l, api.Message), Code: api.Code}
	if len(api.Details) > 0 {
		env.Details = make(map[string]string, len(api.Details))
		for k, v := range api.Details {
			env.Details[k] = i18n.T(l, v)
		}
	}
	return env
}

// Fail maps err to the envelope: APIErrors (the transport's own: bad JSON,
// sizes, routes) as they are, domain errors by statusOf, anything else as 500
// with the cause logged, never sent.
func Fail(c *gin.Context, err error) {
	var api *APIError
	var dom *models.Error
	switch {
	case errors.As(err, &api):
	case errors.As(err, &dom):
		var ok bool
		if api, ok = fromDomain(dom); !ok {
			logger(c).Error("request failed: unmapped domain error", "request_id", RequestID(c), "err", err)
			api = errInternal
			break
		}
		if dom.RetryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(int(math.Ceil(dom.RetryAfter.Seconds()))))
		}
		if dom.Code != models.CodeUnavailable {
			break
		}
		if c.Request.Context().Err() != nil {
			// The client is gone: nobody reads this answer.
			logger(c).Info("request abandoned by client", "request_id", RequestID(c))
		} else {
			logger(c).Warn("service unavailable", "request_id", RequestID(c), "err", err)
		}
	default:
		logger(c).Error("request failed", "request_id", RequestID(c), "err", err)
		api = errInternal
	}
	_ = c.Error(err)
	c.AbortWithStatusJSON(api.Status, translated(c, api))
}

// RequestIDKey is where the request-ID middleware keeps the request's id.
const RequestIDKey = "aura.request_id"

// RequestID returns the id of the request, as sent in X-Request-ID.
func RequestID(c *gin.Context) string { return c.GetString(RequestIDKey) }

// LoggerKey is where the logging middleware keeps the process logger.
const LoggerKey = "aura.logger"

func logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(LoggerKey); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}
