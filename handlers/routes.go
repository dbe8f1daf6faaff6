package handlers

import (
	"github.com/gin-gonic/gin"

	"aura/services/policy"
)

// Routes mounts every endpoint of the contract under api (the /api group).
// session is the middleware that gives a request its database session; the
// index and health endpoints do without one (health takes one only to check
// the token of a caller who sends one).
func (d *Deps) Routes(api *gin.RouterGroup, session gin.HandlerFunc) {
	api.GET("/", Handle(d.Index))
	api.GET("/openapi.json", Handle(d.OpenAPI))
	api.GET("/docs", Handle(d.Docs))
	api.GET("/docs/:file", Handle(d.DocsFile))
	api.GET("/health", WithToken(session), Handle(d.Operator), Handle(d.Health))
	api.GET("/health/live", Handle(d.Live))

	auth := api.Group("/auth", session)
	auth.POST("/register", Handle(d.Register))
	auth.POST("/login", Handle(d.Login))
	auth.POST("/google", Handle(d.Google))
	auth.POST("/refresh", Handle(d.Refresh))
	d.mailRoutes(auth)

	authed := auth.Group("", Handle(d.RequireAuth))
	authed.POST("/logout", Handle(d.Logout))
	authed.GET("/verify", Handle(d.Verify))
	authed.GET("/me", Handle(d.Me))
	authed.PATCH("/me", Handle(d.UpdateMe))
	authed.POST("/change-password", Handle(d.ChangePassword))
	d.authedMailRoutes(authed)

	api.GET("/users/:id/avatar.svg", session, Handle(d.Avatar))
	api.POST("/invitations/accept", session, Handle(d.AcceptInvitation))

	signed := api.Group("", session, Handle(d.RequireAuth))
	signed.GET("/clinics", Handle(d.ListClinics))
	signed.GET("/clinics/mine", Handle(d.MyClinics))
	signed.POST("/clinics/registrations", Handle(d.RegisterClinic))
	signed.POST("/clinics/:id/patients", Handle(d.EnrolPatient))
	signed.GET("/clinics/:id/patients", Handle(d.ClinicPatients))
	signed.GET("/roles", Handle(d.Roles))
	signed.POST("/clinics/:id/invitations", Handle(d.CreateInvitation))
	signed.GET("/clinics/:id/invitations", Handle(d.ListInvitations))
	signed.DELETE("/clinics/:id/invitations/:invitationId", Handle(d.RevokeInvitation))
	signed.GET("/clinics/:id/staff", Handle(d.ClinicStaff))
	signed.DELETE("/clinics/:id/staff/:userId", Handle(d.RemoveStaff))
	signed.GET("/doctors/me", Handle(d.DoctorMe))
	signed.GET("/doctors/me/patients", Handle(d.DoctorPatients))
	signed.PUT("/clinics/:id/patients/:patientId/doctor", Handle(d.AssignDoctor))
	signed.DELETE("/clinics/:id/patients/:patientId/doctor", Handle(d.UnassignDoctor))
	signed.POST("/clinics/:id/patients/:patientId/invite", Handle(d.InvitePatient))
	signed.GET("/patients/me", Handle(d.PatientMe))
	signed.PATCH("/patients/me", Handle(d.UpdatePatientMe))
	signed.GET("/patients/:id", Handle(d.GetPatient))
	signed.DELETE("/patients/me", Handle(d.DeletePatientMe))
	signed.GET("/patients/me/export", Handle(d.ExportPatientMe))
	signed.POST("/screenings", Handle(d.UploadScreening))
	signed.GET("/screenings", Handle(d.ListScreenings))
	signed.GET("/screenings/:id", Handle(d.GetScreening))
	signed.GET("/screenings/:id/image", Handle(d.ScreeningImage))
	signed.GET("/screenings/:id/vessels", Handle(d.ScreeningVessels))
	signed.GET("/screenings/:id/overlay", Handle(d.ScreeningOverlay))
	signed.GET("/screenings/:id/report", Handle(d.ScreeningReport))
	signed.POST("/screenings/:id/claim", Handle(d.ClaimScreening))
	signed.POST("/screenings/:id/release", Handle(d.ReleaseScreening))
	signed.POST("/screenings/:id/review", Handle(d.ReviewScreening))
	signed.GET("/notifications", Handle(d.ListNotifications))
	signed.POST("/notifications/read-all", Handle(d.ReadAllNotifications))
	signed.POST("/notifications/:id/read", Handle(d.ReadNotification))

	admin := api.Group("/admin", session, Handle(d.RequireAuth), Handle(RequirePermission(policy.PermAdminConsole)))
	admin.GET("/users", Handle(d.ListUsers))
	admin.POST("/users", Handle(d.CreateUser))
	admin.PATCH("/users/:id", Handle(d.UpdateUser))
	admin.GET("/clinics", Handle(d.AdminListClinics))
	admin.POST("/clinics", Handle(d.CreateClinic))
	admin.POST("/clinics/:id/approve", Handle(d.ApproveClinic()))
	admin.POST("/clinics/:id/reject", Handle(d.RejectClinic()))
	admin.POST("/clinics/:id/suspend", Handle(d.SuspendClinic()))
	admin.POST("/clinics/:id/reactivate", Handle(d.ReactivateClinic()))
	admin.PATCH("/clinics/:id", Handle(d.UpdateClinic))
	admin.PUT("/clinics/:id/doctors/:userId", Handle(d.AttachDoctor))
	admin.DELETE("/clinics/:id/doctors/:userId", Handle(d.DetachDoctor))
	admin.GET("/audit-logs", Handle(d.ListAuditLogs))
	admin.GET("/analysis-profile", Handle(d.GetAnalysisProfile))
	admin.PUT("/analysis-profile", Handle(d.PutAnalysisProfile))
	admin.GET("/analyzers", Handle(d.ListAnalyzers))
}
