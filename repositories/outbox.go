package repositories

import "gorm.io/gorm"

// Outbox stores mail waiting to leave.
type Outbox struct{ db *gorm.DB }
