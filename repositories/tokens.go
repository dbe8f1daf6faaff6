package repositories

import "gorm.io/gorm"

// Tokens stores single-use emailed tokens (verification, reset) by hash.
type Tokens struct{ db *gorm.DB }
