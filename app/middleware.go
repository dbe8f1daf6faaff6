package app

import (
	"aura/i18n"
	"context"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"aura/handlers"
	"aura/models"
	"aura/repositories"
)

// requestID echoes a sane client X-Request-ID or makes one, on every response.
func requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !validRequestID(id) {
		// Unique, not secret: the runtime's fast generator is enough.
		var b [12]byte
		binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
		binary.LittleEndian.PutUint32(b[8:], rand.Uint32())
		id = hex.EncodeToString(b[:])
	}
	c.Set(handlers.RequestIDKey, id)
	c.Header("X-Request-ID", id)
	c.Next()
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// accessLog writes one structured line per request. The query string is left
// out: it is the client's and may carry personal data.
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Set(handlers.LoggerKey, log)
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		log.LogAttrs(c.Request.Context(), level, "request",
			slog.String("request_id", handlers.RequestID(c)),
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int("bytes", c.Writer.Size()),
			slog.String("client_ip", c.ClientIP()),
		)
	}
}

// recovery turns a panic into 500 INTERNAL; the stack goes to the log only.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				log.Error("panic", "request_id", handlers.RequestID(c), "panic", r, "stack", string(debug.Stack()))
				if !c.Writer.Written() {
					c.AbortWithStatusJSON(http.StatusInternalServerError, handlers.Envelope{
						Error: models.ErrInternal.Message, Code: string(models.CodeInternal)})
				} else {
					c.Abort()
				}
			}
		}()
		c.Next()
	}
}

// batchItemsPath is the route of a batch's items, a large upload.
const batchItemsPath = "/api/batches/:id/items"

// bodyLimit refuses bodies over max bytes before anything parses them.
// The image upload (POST /api/screenings) has its own, larger limit; a
// batch's items (POST /api/batches/{id}/items) intake.max_request_bytes.
func bodyLimit(max, uploadMax, batchMax int64) gin.HandlerFunc {
	return handlers.Handle(func(c *gin.Context) error {
		limit := max
		if c.Request.Method == http.MethodPost && (c.FullPath() == "/api/screenings" || c.FullPath() == "/api/dicomweb/studies") {
			limit = uploadMax
		}
		if c.Request.Method == http.MethodPost && c.FullPath() == batchItemsPath {
			limit = batchMax
		}
		if c.Request.ContentLength > limit {
			return models.NewError(models.CodePayloadTooLarge, "Request body is too large")
		}
		if c.Request.Body != http.NoBody {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
		return nil
	})
}

// uploadDeadline gives the image upload (POST /api/screenings) its own read
// deadline, server.upload_timeout from now, instead of server.read_timeout:
// a photograph over a slow line takes longer than a JSON body. The write
// deadline moves with it (writeTimeout past the read deadline) so that a
// body that does not arrive in time is still answered, 408 REQUEST_TIMEOUT
// (by the upload handler, which sees the read fail), not cut without an
// answer. 0 keeps the server's deadlines.
func uploadDeadline(timeout, writeTimeout time.Duration, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		if timeout <= 0 || c.Request.Method != http.MethodPost || (c.FullPath() != "/api/screenings" && c.FullPath() != "/api/dicomweb/studies" && c.FullPath() != batchItemsPath) {
			c.Next()
			return
		}
		rc := http.NewResponseController(c.Writer)
		read := time.Now().Add(timeout)
		if err := rc.SetReadDeadline(read); err != nil {
			log.Warn("upload deadline not set", "request_id", handlers.RequestID(c), "err", err)
		} else if writeTimeout > 0 {
			_ = rc.SetWriteDeadline(read.Add(writeTimeout))
		}
		c.Next()
	}
}

// session attaches the request's database session: the pool handle bound to
// the client's context (so a client that leaves cancels its queries) with the
// per-request query timeout. Repositories are built on it, never on a global.
//
// A handler that first spends a while on the body (an image upload) calls
// the renewal kept under handlers.RenewKey, which starts a new session whose
// deadline counts from then.
func session(db *gorm.DB, timeout time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		var cancels []context.CancelFunc
		defer func() {
			for _, cancel := range cancels {
				cancel()
			}
		}()
		renew := func() *repositories.Store {
			ctx, cancel := context.WithTimeout(c.Request.Context(), timeout)
			cancels = append(cancels, cancel)
			st := repositories.New(db.WithContext(ctx))
			c.Set(handlers.StoreKey, st)
			return st
		}
		renew()
		c.Set(handlers.RenewKey, renew)
		c.Next()
	}
}

// CORSAllowHeaders are the request headers a browser app may send: those the
// API reads (the bearer token, JSON, the language, an upload's idempotency
// key, a conditional GET, an event stream's resume point, a request id).
const CORSAllowHeaders = "Authorization, Content-Type, Accept-Language, Idempotency-Key, If-None-Match, Last-Event-ID, X-Request-ID"

// CORSExposeHeaders are the answer headers a browser app may read.
const CORSExposeHeaders = "ETag, Location, Retry-After, Content-Disposition, Content-Language, X-Request-ID"

// corsPolicy answers browsers from the allowed origins ("*" allows any).
// Its methods are those of the registered routes (RouteMethods), set once
// the routes are mounted, so the preflight cannot drift from the API.
type corsPolicy struct {
	allowed []string
	any     bool
	methods string
}

func newCORS(allowed []string) *corsPolicy {
	return &corsPolicy{allowed: allowed, any: slices.Contains(allowed, "*")}
}

func (p *corsPolicy) handle(c *gin.Context) {
	origin := c.GetHeader("Origin")
	if origin == "" || (!p.any && !slices.Contains(p.allowed, origin)) {
		c.Next()
		return
	}
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", CORSExposeHeaders)
	if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", p.methods)
		h.Set("Access-Control-Allow-Headers", CORSAllowHeaders)
		h.Set("Access-Control-Max-Age", "600")
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}

// RouteMethods lists the methods of routes, each once, in a fixed order
// (GET, POST, PUT, PATCH, DELETE, then any other by name).
func RouteMethods(routes gin.RoutesInfo) []string {
	rank := map[string]int{http.MethodGet: 0, http.MethodPost: 1, http.MethodPut: 2, http.MethodPatch: 3, http.MethodDelete: 4}
	var out []string
	for _, r := range routes {
		if !slices.Contains(out, r.Method) {
			out = append(out, r.Method)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		ra, oka := rank[a]
		rb, okb := rank[b]
		switch {
		case oka && okb:
			return ra - rb
		case oka:
			return -1
		case okb:
			return 1
		}
		return strings.Compare(a, b)
	})
	return out
}

// securityHeaders sets the headers every response of the API carries before
// anything answers: the handlers, 404 and 405, a recovered panic, and gin's
// own trailing-slash redirects, which run no middleware (hence a wrapper of
// the whole router, not a gin middleware). A JSON API has nothing to frame,
// run or load: the Content-Security-Policy forbids it all, so a body that a
// browser renders anyway (an HTML redirect, a sniffed error) stays inert.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

func trimAll(list []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// language chooses the request's language from Accept-Language (vi or en),
// def when it names neither; handlers answer in it.
func language(def string) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(handlers.LangKey, i18n.FromHeader(c.GetHeader("Accept-Language"), def))
		c.Header("Content-Language", c.GetString(handlers.LangKey))
		c.Next()
	}
}
