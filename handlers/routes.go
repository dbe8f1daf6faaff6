package handlers

import (
	"github.com/gin-gonic/gin"

	"aura/models"
)

// Routes mounts every endpoint of the contract under api (the /api group).
// session is the middleware that gives a request its database session; the
// index and health endpoints do without one (health takes one only to check
// the token of a caller who sends one).
func (d *Deps) Routes(api *gin.RouterGroup, session gin.HandlerFunc) {
	api.GET("/", d.Index)
	api.GET("/openapi.json", d.OpenAPI)
	api.GET("/docs", d.Docs)
	api.GET("/docs/:file", d.DocsFile)
	api.GET("/health", WithToken(session), d.Operator, d.Health)
	api.GET("/health/live", d.Live)

	auth := api.Group("/auth", session)
	auth.POST("/register", d.Register)
	auth.POST("/login", d.Login)
	auth.POST("/refresh", d.Refresh)
	d.mailRoutes(auth)

	authed := auth.Group("", d.RequireAuth)
	authed.POST("/logout", d.Logout)
	authed.GET("/verify", d.Verify)
	authed.GET("/me", d.Me)
	authed.PATCH("/me", d.UpdateMe)
	authed.POST("/change-password", d.ChangePassword)
	d.authedMailRoutes(authed)

	signed := api.Group("", session, d.RequireAuth)
	signed.GET("/clinics", d.ListClinics)
	signed.GET("/doctors/me", d.DoctorMe)
	signed.GET("/patients/me", d.PatientMe)
	signed.PATCH("/patients/me", d.UpdatePatientMe)
	signed.GET("/patients/:userId", d.GetPatient)
	signed.POST("/screenings", d.UploadScreening)
	signed.GET("/screenings", d.ListScreenings)
	signed.GET("/screenings/:id", d.GetScreening)
	signed.GET("/screenings/:id/image", d.ScreeningImage)
	signed.GET("/screenings/:id/vessels", d.ScreeningVessels)
	signed.GET("/screenings/:id/report", d.ScreeningReport)
	signed.POST("/screenings/:id/claim", d.ClaimScreening)
	signed.POST("/screenings/:id/release", d.ReleaseScreening)
	signed.POST("/screenings/:id/review", d.ReviewScreening)
	signed.GET("/notifications", d.ListNotifications)
	signed.POST("/notifications/read-all", d.ReadAllNotifications)
	signed.POST("/notifications/:id/read", d.ReadNotification)

	admin := api.Group("/admin", session, d.RequireAuth, RequireRole(models.RoleAdmin))
	admin.GET("/users", d.ListUsers)
	admin.PATCH("/users/:id", d.UpdateUser)
	admin.POST("/clinics", d.CreateClinic)
	admin.PATCH("/clinics/:id", d.UpdateClinic)
	admin.PUT("/clinics/:id/doctors/:userId", d.AttachDoctor)
	admin.DELETE("/clinics/:id/doctors/:userId", d.DetachDoctor)
	admin.GET("/audit-logs", d.ListAuditLogs)
	admin.GET("/analysis-profile", d.GetAnalysisProfile)
	admin.PUT("/analysis-profile", d.PutAnalysisProfile)
}
