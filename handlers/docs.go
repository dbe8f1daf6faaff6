package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"aura/apidoc"
	"aura/models"
)

// OpenAPI is GET /api/openapi.json: the API's OpenAPI 3.1 document, as JSON.
func (d *Deps) OpenAPI(c *gin.Context) {
	serveAsset(c, apidoc.JSON(), "application/json; charset=utf-8")
}

// Docs is GET /api/docs: the reference page (Swagger UI on the document),
// under its own Content-Security-Policy (scripts and styles of this origin).
func (d *Deps) Docs(c *gin.Context) {
	c.Header("Content-Security-Policy", apidoc.CSP())
	serveAsset(c, apidoc.Page(), "text/html; charset=utf-8")
}

// DocsFile is GET /api/docs/{file}: a file the page loads (Swagger UI's
// script and style, the page's start script) or a licence of them.
func (d *Deps) DocsFile(c *gin.Context) {
	f, ok := apidoc.DocsFile(c.Param("file"))
	if !ok {
		Fail(c, models.ErrNotFound)
		return
	}
	serveAsset(c, f.Asset, f.ContentType)
}

// serveAsset answers a document that only changes with the binary: English
// whatever Accept-Language asks, revalidated by its ETag.
func serveAsset(c *gin.Context, a apidoc.Asset, contentType string) {
	c.Header("Content-Language", "en")
	c.Header("ETag", a.ETag)
	c.Header("Cache-Control", "no-cache")
	if match := c.GetHeader("If-None-Match"); match == a.ETag || match == "*" {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, contentType, a.Body)
}
