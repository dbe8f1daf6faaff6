package models

import "time"

// Batch states.
const (
	BatchOpen   = "open"
	BatchClosed = "closed"
)

// The audit trail of batches: made and closed (the items are audited as
// staff uploads).
const (
	EntityBatch      = "batch"
	AuditBatchCreate = "batch.create"
	AuditBatchClose  = "batch.close"
)

// Batch is a clinic's batch of screenings sent together (a day's camera
// export, a screening camp): its items are screenings that name it
// (Screening.BatchID); their analyses queue behind single uploads
// (PriorityBatch). A closed batch takes no more items.
type Batch struct {
	ID       string  `gorm:"type:varchar(36);primaryKey"`
	ClinicID string  `gorm:"type:varchar(36);not null;index:idx_batches_clinic,priority:1"`
	Name     *string `gorm:"type:varchar(200)"`
	Status   string  `gorm:"type:varchar(10);not null;default:'open'"`
	// Rejected counts the items refused over all of the batch's requests.
	Rejected  int       `gorm:"not null;default:0"`
	CreatedBy string    `gorm:"type:varchar(36);not null"`
	CreatedAt time.Time `gorm:"not null;index:idx_batches_clinic,priority:2"`
	ClosedAt  *time.Time
}
