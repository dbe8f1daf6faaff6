package handlers

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"aura/models"
)

// Machine codes of the failure envelope.
const (
	CodeInvalidJSON        = "INVALID_JSON"
	CodeValidation         = "VALIDATION_FAILED"
	CodeTokenInvalid       = "TOKEN_INVALID"
	CodeUnauthorized       = "UNAUTHORIZED"
	CodeInvalidCredentials = "INVALID_CREDENTIALS"
	CodeForbidden          = "FORBIDDEN"
	CodeAccountDisabled    = "ACCOUNT_DISABLED"
	CodeNotFound           = "NOT_FOUND"
	CodeMethodNotAllowed   = "METHOD_NOT_ALLOWED"
	CodeEmailTaken         = "EMAIL_TAKEN"
	CodePayloadTooLarge    = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedMedia   = "UNSUPPORTED_MEDIA_TYPE"
	CodeRateLimited        = "RATE_LIMITED"
	CodeUnavailable        = "UNAVAILABLE"
	CodeInternal           = "INTERNAL"
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

// Invalid is a 400 VALIDATION_FAILED naming each field at fault.
func Invalid(details map[string]string) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: CodeValidation, Message: "Some fields are invalid", Details: details}
}

// Errors that several handlers answer with.
var (
	errUnauthorized   = Errf(http.StatusUnauthorized, CodeUnauthorized, "Authentication required: missing, invalid or expired token")
	errBadCredentials = Errf(http.StatusUnauthorized, CodeInvalidCredentials, "Invalid email or password")
	errForbidden      = Errf(http.StatusForbidden, CodeForbidden, "You are not allowed to do this")
	errDisabled       = Errf(http.StatusForbidden, CodeAccountDisabled, "This account has been deactivated")
	errNotFound       = Errf(http.StatusNotFound, CodeNotFound, "Not found")
	errTokenInvalid   = Errf(http.StatusBadRequest, CodeTokenInvalid, "This link is invalid or has expired; ask for a new one")
	errUnavailable    = Errf(http.StatusServiceUnavailable, CodeUnavailable, "Service temporarily unavailable, try again shortly")
	errInternal       = Errf(http.StatusInternalServerError, CodeInternal, "Internal server error")
)

// OK writes a success envelope.
func OK(c *gin.Context, status int, data any, message string) {
	c.JSON(status, Envelope{Success: true, Data: data, Message: message})
}

// Fail maps err to the envelope: APIErrors as they are, domain errors by the
// table below, anything else as 500 with the cause logged, never sent.
func Fail(c *gin.Context, err error) {
	var api *APIError
	switch {
	case errors.As(err, &api):
	case errors.Is(err, models.ErrNotFound):
		api = errNotFound
	case errors.Is(err, models.ErrEmailTaken):
		api = Errf(http.StatusConflict, CodeEmailTaken, "An account with this email already exists")
	case errors.Is(err, models.ErrTokenInvalid):
		api = errTokenInvalid
	case errors.Is(err, models.ErrUnavailable):
		if c.Request.Context().Err() != nil {
			// The client is gone: nobody reads this answer.
			logger(c).Info("request abandoned by client", "request_id", RequestID(c))
		} else {
			logger(c).Warn("database unavailable", "request_id", RequestID(c), "err", err)
		}
		api = errUnavailable
	default:
		logger(c).Error("request failed", "request_id", RequestID(c), "err", err)
		api = errInternal
	}
	_ = c.Error(err)
	c.AbortWithStatusJSON(api.Status, Envelope{Error: api.Message, Code: api.Code, Details: api.Details})
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
