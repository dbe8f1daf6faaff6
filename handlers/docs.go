package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"aura/apidoc"
)

// OpenAPI is GET /api/openapi.json: the API's OpenAPI 3.1 document, as JSON.
func (d *Deps) OpenAPI(c *gin.Context) error {
	serveAsset(c, apidoc.JSON(), "application/json; charset=utf-8")
	return nil
}

// Docs is GET /api/docs: the HTML reference page, under its own
// Content-Security-Policy (its inline style by hash, nothing else).
func (d *Deps) Docs(c *gin.Context) error {
	c.Header("Content-Security-Policy", apidoc.CSP())
	serveAsset(c, apidoc.Page(), "text/html; charset=utf-8")
	return nil
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
