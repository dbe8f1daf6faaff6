package handlers

import (
	"github.com/gin-gonic/gin"

	"time"

	"aura/models"
	"aura/repositories"
)

// queueVerification queues the verification mail of a new account.
func (d *Deps) queueVerification(tx *repositories.Store, u *models.User, now time.Time) error {
	return nil
}

// queuePasswordChanged queues the "your password was changed" notice.
func (d *Deps) queuePasswordChanged(tx *repositories.Store, u *models.User, now time.Time) error {
	return nil
}

func (d *Deps) mailRoutes(auth *gin.RouterGroup)       {}
func (d *Deps) authedMailRoutes(auth *gin.RouterGroup) {}
