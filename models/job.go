package models

import "time"

// Job kinds.
const (
	JobAnalyze = "analyze"
)

// Job priorities (Job.Priority): lower is claimed first.
const (
	// PriorityUpload is a single upload's (a patient's own, a staff
	// upload, a camera's).
	PriorityUpload = 0
	// PriorityBatch is a batch item's: it waits behind every single upload.
	PriorityBatch = 1
)

// Job is one unit of background work in the database queue: written in the
// transaction that asks for it, claimed by one worker at a time under a
// lease (a job whose worker died is claimed again once the lease ends),
// retried with capped backoff up to MaxAttempts, then given up.
type Job struct {
	ID   uint64 `gorm:"primaryKey;autoIncrement;index:idx_jobs_order,priority:4"`
	Kind string `gorm:"type:varchar(32);not null;uniqueIndex:idx_jobs_ref,priority:1;index:idx_jobs_order,priority:1,where:finished_at IS NULL;index:idx_jobs_turn,priority:2,where:finished_at IS NULL"`
	// Ref names what the job works on (a screening id); one job per kind and ref.
	Ref           string    `gorm:"type:varchar(64);not null;uniqueIndex:idx_jobs_ref,priority:2"`
	Attempts      int       `gorm:"not null;default:0"`
	MaxAttempts   int       `gorm:"not null"`
	NextAttemptAt time.Time `gorm:"not null;index:idx_jobs_due,priority:2"`
	// FinishedAt is set when the job succeeded or was given up.
	FinishedAt  *time.Time `gorm:"index:idx_jobs_due,priority:1"`
	Failed      bool       `gorm:"type:boolean;not null;default:false"`
	LockedBy    string     `gorm:"type:varchar(64);not null;default:''"`
	LockedUntil *time.Time
	LastError   string `gorm:"type:varchar(1024);not null;default:''"`
	// Account is whose work the job is (the patient's user id; "" for none):
	// claims serve accounts in turn (see FairSeq).
	Account string `gorm:"type:varchar(36);not null;default:'';index:idx_jobs_turn,priority:1"`
	// Priority is the job's class (PriorityUpload, PriorityBatch): every
	// due job of a lower number is claimed before any of a higher one, so
	// a batch's screenings queue behind single uploads however many wait.
	// The fair order (FairSeq) holds within each class.
	Priority int `gorm:"not null;default:0;index:idx_jobs_order,priority:2;index:idx_jobs_turn,priority:3"`
	// FairSeq is the job's place in the fair order in which jobs are claimed
	// (lowest first): an account's next job comes one turn after its
	// previous unfinished one, and never before the queue's current head, so
	// one account's flood takes one turn in every round, not the whole queue
	// (repositories.Jobs.Enqueue). Both its indexes are partial (unfinished
	// jobs only), so the claim walks idx_jobs_order (kind, priority,
	// fair_seq, id) in order and queuing reads one entry of each.
	FairSeq int64 `gorm:"not null;default:0;index:idx_jobs_order,priority:3;index:idx_jobs_turn,priority:4"`
	// OutageSince is when the job's current run of outages began (its store,
	// database or model server unavailable); nil when its last attempt met
	// none. Outages use up no attempt; they are waited out until
	// queue.Config.OutageBudget has passed since OutageSince.
	OutageSince *time.Time
	CreatedAt   time.Time `gorm:"not null"`
}

// Notification types.
const (
	NoticeAnalyzed = "SCREENING_ANALYZED"
	NoticeWaiting  = "CASE_WAITING"
	NoticeReviewed = "SCREENING_REVIEWED"
	NoticeFailed   = "SCREENING_FAILED"
	// A clinic's life cycle: its applicant is told of the decision, its
	// CLINIC_ADMINs of a suspension.
	NoticeClinicApproved  = "CLINIC_APPROVED"
	NoticeClinicRejected  = "CLINIC_REJECTED"
	NoticeClinicSuspended = "CLINIC_SUSPENDED"
)

// Notification is a notice in a user's inbox in the app.
type Notification struct {
	ID          string    `gorm:"type:varchar(36);primaryKey"`
	UserID      string    `gorm:"type:varchar(36);not null;index:idx_notifications_user,priority:1"`
	Type        string    `gorm:"type:varchar(32);not null"`
	Title       string    `gorm:"type:varchar(200);not null"`
	Body        string    `gorm:"type:varchar(2000);not null"`
	ScreeningID *string   `gorm:"type:varchar(36)"`
	CreatedAt   time.Time `gorm:"not null;index:idx_notifications_user,priority:2"`
	ReadAt      *time.Time
	User        *User `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
	// Use is what the built-in text was made from, for an edited template
	// to be applied when the notice is written; not stored.
	Use *TextUse `gorm:"-" json:"-"`
}

// AnalysisProfile is one version of the clinic's risk rules; the highest
// version is the one in force. Versions are never changed, only added.
type AnalysisProfile struct {
	Version   int    `gorm:"primaryKey;autoIncrement:false"`
	RulesJSON string `gorm:"type:text;not null"`
	// TrendsJSON is the follow-up thresholds as a JSON array; NULL for a
	// version stored before thresholds existed (it has none).
	TrendsJSON *string   `gorm:"column:trends_json;type:text"`
	CreatedAt  time.Time `gorm:"not null"`
	CreatedBy  *string   `gorm:"type:varchar(36)"`
}

// QueueMail is the name of the mail outbox among the queues (the jobs
// table's queues are named by their job kind).
const QueueMail = "mail"

// QueueStats is what waits in one queue at a moment: items due and not
// claimed (Ready), items waiting for a later attempt (Delayed), items under a
// live lease (Running), and when the oldest ready item became due.
type QueueStats struct {
	Kind        string
	Ready       int64
	Delayed     int64
	Running     int64
	OldestReady *time.Time
}

// OldestReadyAge is how long the oldest ready item has waited at now (0
// when none waits).
func (q QueueStats) OldestReadyAge(now time.Time) time.Duration {
	if q.OldestReady == nil || !now.After(*q.OldestReady) {
		return 0
	}
	return now.Sub(*q.OldestReady)
}
