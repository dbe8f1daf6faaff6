package models

import (
	"errors"
	"time"
)

// Code is the machine code of a domain error. It is the envelope's `code`;
// the HTTP layer maps each code to a status in one table.
type Code string

// The codes of the contract that the rules of the domain can produce.
const (
	CodeValidation         Code = "VALIDATION_FAILED"
	CodeTokenInvalid       Code = "TOKEN_INVALID"
	CodeUnauthorized       Code = "UNAUTHORIZED"
	CodeInvalidCredentials Code = "INVALID_CREDENTIALS"
	CodeForbidden          Code = "FORBIDDEN"
	CodeAccountDisabled    Code = "ACCOUNT_DISABLED"
	CodeNotFound           Code = "NOT_FOUND"
	CodeEmailTaken         Code = "EMAIL_TAKEN"
	CodeConflict           Code = "CONFLICT"
	CodeRateLimited        Code = "RATE_LIMITED"
	CodeUnavailable        Code = "UNAVAILABLE"
	CodePayloadTooLarge    Code = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedMedia   Code = "UNSUPPORTED_MEDIA_TYPE"
	CodeNotReady           Code = "NOT_READY"
	CodeAlreadyClaimed     Code = "ALREADY_CLAIMED"
	CodeNotClaimed         Code = "NOT_CLAIMED"
	CodeInvalidState       Code = "INVALID_STATE"
	CodeClinicInactive     Code = "CLINIC_INACTIVE"
	// Failures of the transport (HTTP), in the same table: a body that is
	// not the documented JSON, a method the route does not have, and a
	// failure with no code of its own (its cause is logged, never sent).
	CodeInvalidJSON      Code = "INVALID_JSON"
	CodeInvalidMultipart Code = "INVALID_MULTIPART"
	CodeRequestTimeout   Code = "REQUEST_TIMEOUT"
	CodeMethodNotAllowed Code = "METHOD_NOT_ALLOWED"
	CodeInternal         Code = "INTERNAL"
	// CodeTokenReused is internal: the rules answer it as UNAUTHORIZED after
	// revoking the session.
	CodeTokenReused Code = "TOKEN_REUSED"
)

// Error is a domain error: a code, a human message, the fields at fault
// (VALIDATION_FAILED) and, for RATE_LIMITED, how long to wait.
type Error struct {
	Code       Code
	Message    string
	Details    map[string]string
	RetryAfter time.Duration
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Is makes errors.Is(err, ErrX) true for every error of ErrX's code, so a
// VALIDATION_FAILED with details is still ErrInvalid.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// CodeOf returns the code of the domain error in err's chain, or "".
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Domain errors. Repositories and the rules return them (wrapped or not); the
// HTTP layer maps them to statuses in one table.
var (
	// ErrInvalid: fields present but invalid; see Invalid.
	ErrInvalid = &Error{Code: CodeValidation, Message: "Some fields are invalid"}
	// ErrNotFound: the row asked for does not exist (or may not be seen).
	ErrNotFound = &Error{Code: CodeNotFound, Message: "Not found"}
	// ErrConflict: a unique constraint refused the write.
	ErrConflict = &Error{Code: CodeConflict, Message: "This conflicts with an existing record"}
	// ErrEmailTaken: an account with this email (case-insensitively) exists.
	ErrEmailTaken = &Error{Code: CodeEmailTaken, Message: "An account with this email already exists"}
	// ErrTokenInvalid: a verification or reset token is unknown, used,
	// expired, superseded or malformed.
	ErrTokenInvalid = &Error{Code: CodeTokenInvalid, Message: "This link is invalid or has expired; ask for a new one"}
	// ErrTokenReused: an already-rotated refresh token was presented; its
	// session has been revoked.
	ErrTokenReused = &Error{Code: CodeTokenReused, Message: "Authentication required: missing, invalid or expired token"}
	// ErrUnauthorized: no valid credentials (token missing, expired, revoked).
	ErrUnauthorized = &Error{Code: CodeUnauthorized, Message: "Authentication required: missing, invalid or expired token"}
	// ErrBadCredentials: a login or current password was wrong.
	ErrBadCredentials = &Error{Code: CodeInvalidCredentials, Message: "Invalid email or password"}
	// ErrForbidden: the caller's roles do not allow this.
	ErrForbidden = &Error{Code: CodeForbidden, Message: "You are not allowed to do this"}
	// ErrDisabled: the account was deactivated by an admin.
	ErrDisabled = &Error{Code: CodeAccountDisabled, Message: "This account has been deactivated"}
	// ErrRateLimited: too many attempts; see RateLimited.
	ErrRateLimited = &Error{Code: CodeRateLimited, Message: "Too many attempts; try again later"}
	// ErrTooLarge: an upload is over its size limit.
	ErrTooLarge = &Error{Code: CodePayloadTooLarge, Message: "The image is larger than allowed"}
	// ErrUnsupportedImage: an upload is not a JPEG or PNG image.
	ErrUnsupportedImage = &Error{Code: CodeUnsupportedMedia, Message: "The image must be a JPEG or PNG file"}
	// ErrNotReady: the screening has not been analysed yet.
	ErrNotReady = &Error{Code: CodeNotReady, Message: "The screening has not been analysed yet"}
	// ErrAlreadyClaimed: another doctor is reviewing the screening.
	ErrAlreadyClaimed = &Error{Code: CodeAlreadyClaimed, Message: "Another doctor is reviewing this screening"}
	// ErrNotClaimed: the caller does not hold the screening's review.
	ErrNotClaimed = &Error{Code: CodeNotClaimed, Message: "You have not claimed this screening"}
	// ErrInvalidState: the screening's status does not allow this.
	ErrInvalidState = &Error{Code: CodeInvalidState, Message: "The screening is not in a state that allows this"}
	// ErrClinicStateInvalid: the clinic's status does not allow the
	// transition asked for (approve an active clinic, reactivate a rejected one).
	ErrClinicStateInvalid = &Error{Code: CodeInvalidState, Message: "The clinic is not in a state that allows this"}
	// ErrClinicInactive: the clinic is pending, suspended or rejected: it takes
	// no new screenings and its staff cannot claim or review.
	ErrClinicInactive = &Error{Code: CodeClinicInactive, Message: "This clinic is not active: it takes no new screenings, claims or reviews"}
	// ErrUnavailable: the database (or the password hasher) did not answer in time.
	ErrUnavailable = &Error{Code: CodeUnavailable, Message: "Service temporarily unavailable, try again shortly"}
	// ErrInternal: what a failure without a code is answered with.
	ErrInternal = &Error{Code: CodeInternal, Message: "Internal server error"}
)

// NewError is an error of code with its human message.
func NewError(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Invalid is a VALIDATION_FAILED naming each field at fault.
func Invalid(details map[string]string) *Error {
	return &Error{Code: CodeValidation, Message: ErrInvalid.Message, Details: details}
}

// RateLimited is a RATE_LIMITED that may be retried after wait.
func RateLimited(wait time.Duration) *Error {
	return &Error{Code: CodeRateLimited, Message: ErrRateLimited.Message, RetryAfter: wait}
}

// WithMessage is err's code with another human message.
func WithMessage(err *Error, msg string) *Error {
	return &Error{Code: err.Code, Message: msg, Details: err.Details, RetryAfter: err.RetryAfter}
}
