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
	"aura/storage"
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

// Errors that the middleware answers with.
var (
	errUnauthorized = models.ErrUnauthorized
	errForbidden    = models.ErrForbidden
	errNotFound     = models.ErrNotFound
	// errMultipart: an upload's body is not the multipart/form-data it
	// claims (no boundary, broken framing, cut short).
	errMultipart = models.NewError(models.CodeInvalidMultipart, "The multipart body could not be read")
	// errBodyTimeout: the body did not arrive within its deadline
	// (server.upload_timeout for an upload).
	errBodyTimeout = models.NewError(models.CodeRequestTimeout, "The request body did not arrive in time")
)

// statusOf is the one table from an error's code to its HTTP status: the
// domain's codes and the transport's (INVALID_JSON, METHOD_NOT_ALLOWED,
// INTERNAL) alike.
var statusOf = map[models.Code]int{
	models.CodeValidation:         http.StatusBadRequest,
	models.CodeInvalidJSON:        http.StatusBadRequest,
	models.CodeInvalidMultipart:   http.StatusBadRequest,
	models.CodeRequestTimeout:     http.StatusRequestTimeout,
	models.CodeTokenInvalid:       http.StatusBadRequest,
	models.CodeUnauthorized:       http.StatusUnauthorized,
	models.CodeTokenReused:        http.StatusUnauthorized,
	models.CodeInvalidCredentials: http.StatusUnauthorized,
	models.CodeForbidden:          http.StatusForbidden,
	models.CodeAccountDisabled:    http.StatusForbidden,
	models.CodeNotFound:           http.StatusNotFound,
	models.CodeMethodNotAllowed:   http.StatusMethodNotAllowed,
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
	models.CodeClinicInactive:     http.StatusConflict,
	models.CodePaymentRequired:    http.StatusPaymentRequired,
	models.CodeInternal:           http.StatusInternalServerError,
}

// StatusOf is the HTTP status of err by statusOf, and the error as the
// client sees it: an error without a code, or with a code missing from the
// table, is a 500 INTERNAL; a reused refresh token is answered UNAUTHORIZED.
// A stored object that cannot be decrypted (storage.ErrUndecryptable: wrong
// key, no key, altered) is 503 UNAVAILABLE even where no service gave it a
// code: never a 500, never the stored bytes.
func StatusOf(err error) (int, *models.Error) {
	var e *models.Error
	if !errors.As(err, &e) {
		if errors.Is(err, storage.ErrUndecryptable) {
			return http.StatusServiceUnavailable, models.ErrUnavailable
		}
		return http.StatusInternalServerError, models.ErrInternal
	}
	status, ok := statusOf[e.Code]
	if !ok {
		return http.StatusInternalServerError, models.ErrInternal
	}
	if e.Code == models.CodeTokenReused {
		e = models.WithMessage(models.ErrUnauthorized, e.Message)
	}
	return status, e
}

// LangKey is where the language middleware keeps the request's language.
const LangKey = "aura.lang"

// OK writes a success envelope, its message in the request's language.
func OK(c *gin.Context, status int, data any, message string) {
	c.JSON(status, Envelope{Success: true, Data: data, Message: i18n.T(lang(c), message)})
}

// translated is e's human texts in the request's language; codes and field
// names stay as they are.
func translated(c *gin.Context, e *models.Error) Envelope {
	l := lang(c)
	env := Envelope{Error: i18n.T(l, e.Message), Code: string(e.Code)}
	if len(e.Details) > 0 {
		env.Details = make(map[string]string, len(e.Details))
		for k, v := range e.Details {
			env.Details[k] = i18n.T(l, v)
		}
	}
	return env
}

// withData is a failure whose envelope carries data too (the health view of
// GET /api/health's 503).
type withData struct {
	err  *models.Error
	data any
}

func (w withData) Error() string { return w.err.Error() }
func (w withData) Unwrap() error { return w.err }

// Handler is an endpoint or a middleware of the API: it writes its success
// itself and returns its failure, which Handle renders.
type Handler func(c *gin.Context) error

// Handle adapts h to Gin. It is the one place where a failure becomes an
// answer: an error h returns is rendered by fail (and the chain stopped).
func Handle(h Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			fail(c, err)
		}
	}
}

// fail renders err as the envelope with its status by statusOf, a
// Retry-After when it says how long to wait, and anything without a known
// code as 500 with the cause logged, never sent.
func fail(c *gin.Context, err error) {
	status, e := StatusOf(err)
	_, mapped := statusOf[models.CodeOf(err)]
	switch {
	case models.CodeOf(err) != "" && !mapped:
		logger(c).Error("request failed: unmapped error code", "request_id", RequestID(c), "err", err)
	case status == http.StatusInternalServerError:
		logger(c).Error("request failed", "request_id", RequestID(c), "err", err)
	case e.Code == models.CodeUnavailable && c.Request.Context().Err() != nil:
		// The client is gone: nobody reads this answer.
		logger(c).Info("request abandoned by client", "request_id", RequestID(c))
	case e.Code == models.CodeUnavailable:
		logger(c).Warn("service unavailable", "request_id", RequestID(c), "err", err)
	}
	if e.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	env := translated(c, e)
	if w, ok := errors.AsType[withData](err); ok {
		env.Data = w.data
	}
	_ = c.Error(err)
	c.AbortWithStatusJSON(status, env)
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
