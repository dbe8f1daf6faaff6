// Package handlers holds AURA's Gin handlers: strict binding of the request
// (Bind), one call into the rules of services/* on the request's Store (the
// session middleware's; transactions begin in the services, never here),
// and the rendering of the answer. Every handler and middleware of the API
// is a Handler (func(*gin.Context) error) mounted through Handle, the one
// adapter that renders a returned error as the envelope, its status taken
// from the one code table (statusOf). It never imports GORM.
package handlers
