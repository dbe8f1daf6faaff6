package repositories

import (
	"encoding/json"
	"sync"
	"time"

	"gorm.io/gorm"

	"aura/models"
)

// EventsChannel is the PostgreSQL channel a NOTIFY wakes the instances'
// event hubs on, once the transaction that stored events commits.
const EventsChannel = "aura_events"

// eventsLock is the transaction-level advisory lock taken before events are
// inserted on PostgreSQL: the events' ids are then committed in the order
// they were drawn, so a reader that saw id n never later finds a committed
// id below n (it reads "every id above the last one delivered").
const eventsLock = 0x41555241 // "AURA"

// TimeLayout is the form of instants in event data, as in every answer.
const TimeLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Events stores the live updates of GET /api/events (one row per
// recipient) and the tickets that open a stream.
type Events struct{ db *gorm.DB }

// localEvents wakes the hubs of this process when events are stored (the
// in-process delivery of SQLite; on PostgreSQL NOTIFY does it).
var localEvents = struct {
	sync.Mutex
	ch chan struct{}
}{ch: make(chan struct{})}

// EventsStored returns a channel closed the next time this process stores
// events.
func EventsStored() <-chan struct{} {
	localEvents.Lock()
	defer localEvents.Unlock()
	return localEvents.ch
}

func signalEvents() {
	localEvents.Lock()
	close(localEvents.ch)
	localEvents.ch = make(chan struct{})
	localEvents.Unlock()
}

// Publish stores one event of kind with data (marshalled to JSON) for each
// of userIDs (duplicates and "" are dropped). Call it in the transaction of
// the change it announces, as its last write: on PostgreSQL it takes the
// events lock until that transaction ends and sends the NOTIFY that is
// delivered at commit.
func (r *Events) Publish(kind string, userIDs []string, data any, now time.Time) error {
	seen := map[string]bool{}
	rows := make([]*models.Event, 0, len(userIDs))
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	for _, u := range userIDs {
		if u == "" || seen[u] {
			continue
		}
		seen[u] = true
		rows = append(rows, &models.Event{UserID: u, Kind: kind, Data: string(raw), CreatedAt: now})
	}
	if len(rows) == 0 {
		return nil
	}
	pg := r.db.Dialector.Name() == "postgres"
	err = r.db.Transaction(func(tx *gorm.DB) error {
		if pg {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", eventsLock).Error; err != nil {
				return err
			}
		}
		if err := tx.Create(rows).Error; err != nil {
			return err
		}
		if pg {
			return tx.Exec("SELECT pg_notify(?, '')", EventsChannel).Error
		}
		return nil
	})
	if err != nil {
		return translate(err)
	}
	signalEvents()
	return nil
}

// After returns up to limit events with an id above after, oldest first.
func (r *Events) After(after uint64, limit int) ([]models.Event, error) {
	var out []models.Event
	err := r.db.Where("id > ?", after).Order("id").Limit(limit).Find(&out).Error
	return out, translate(err)
}

// Replay returns up to limit of userID's events with an id above after
// stored at or after since, oldest first.
func (r *Events) Replay(userID string, after uint64, since time.Time, limit int) ([]models.Event, error) {
	var out []models.Event
	err := r.db.Where("user_id = ? AND id > ? AND created_at >= ?", userID, after, since).Order("id").Limit(limit).Find(&out).Error
	return out, translate(err)
}

// LastID is the highest event id stored (0 when none).
func (r *Events) LastID() (uint64, error) {
	var id *uint64
	err := r.db.Model(&models.Event{}).Select("MAX(id)").Scan(&id).Error
	if err != nil || id == nil {
		return 0, translate(err)
	}
	return *id, nil
}

// Prune deletes the events stored before before and the tickets that
// expired before it; it returns how many rows went.
func (r *Events) Prune(before time.Time) (int64, error) {
	res := r.db.Where("created_at < ?", before).Delete(&models.Event{})
	if res.Error != nil {
		return 0, translate(res.Error)
	}
	res2 := r.db.Where("expires_at < ?", before).Delete(&models.EventTicket{})
	return res.RowsAffected + res2.RowsAffected, translate(res2.Error)
}

// AddTicket stores a ticket (its hash).
func (r *Events) AddTicket(t *models.EventTicket) error { return translate(r.db.Create(t).Error) }

// UseTicket spends the ticket of hash if it is unused and unexpired at now,
// in one conditional update (of concurrent uses exactly one succeeds), and
// returns it; models.ErrNotFound otherwise.
func (r *Events) UseTicket(hash string, now time.Time) (*models.EventTicket, error) {
	res := r.db.Model(&models.EventTicket{}).Where("hash = ? AND used_at IS NULL AND expires_at > ?", hash, now).Update("used_at", now)
	if res.Error != nil {
		return nil, translate(res.Error)
	}
	if res.RowsAffected != 1 {
		return nil, models.ErrNotFound
	}
	var t models.EventTicket
	return &t, translate(r.db.Where("hash = ?", hash).Take(&t).Error)
}

// NotificationData is the data of a notification event: the Notification
// object of GET /api/notifications.
type NotificationData struct {
	ID          string  `json:"id"`
	Type        string  `json:"type"`
	Title       string  `json:"title"`
	Body        string  `json:"body"`
	ScreeningID *string `json:"screeningId"`
	CreatedAt   string  `json:"createdAt"`
	ReadAt      *string `json:"readAt"`
}

// publishNotices sends each notice to its user's streams.
func (r *Events) publishNotices(ns []*models.Notification) error {
	for _, n := range ns {
		d := NotificationData{ID: n.ID, Type: n.Type, Title: n.Title, Body: n.Body, ScreeningID: n.ScreeningID,
			CreatedAt: formatTime(n.CreatedAt)}
		if n.ReadAt != nil {
			s := formatTime(*n.ReadAt)
			d.ReadAt = &s
		}
		if err := r.Publish(models.EventNotification, []string{n.UserID}, d, n.CreatedAt); err != nil {
			return err
		}
	}
	return nil
}

// ScreeningData is the data of a screening event.
type ScreeningData struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// publishScreenings tells who may follow them the status of screenings ids
// now: the patient (a record with an account), the doctor holding the
// screening's claim and the doctor assigned to the patient at its clinic.
func (r *Events) publishScreenings(now time.Time, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	var rows []struct {
		ID, Status                  string
		PatientUser, Reviewer, Lead *string
	}
	if err := r.db.Raw(`SELECT s.id, s.status, p.user_id AS patient_user, s.reviewer_id AS reviewer, cp.assigned_doctor_id AS lead
		FROM screenings s JOIN patients p ON p.id = s.patient_id
		LEFT JOIN clinic_patients cp ON cp.clinic_id = s.clinic_id AND cp.patient_id = s.patient_id
		WHERE s.id IN ?`, ids).Scan(&rows).Error; err != nil {
		return translate(err)
	}
	for _, row := range rows {
		var to []string
		for _, u := range []*string{row.PatientUser, row.Reviewer, row.Lead} {
			if u != nil {
				to = append(to, *u)
			}
		}
		if err := r.Publish(models.EventScreening, to, ScreeningData{ID: row.ID, Status: row.Status}, now); err != nil {
			return err
		}
	}
	return nil
}

// MessageData is the Message object of the API and of message events.
type MessageData struct {
	ID             string     `json:"id"`
	ConversationID string     `json:"conversationId"`
	Sender         SenderData `json:"sender"`
	Body           string     `json:"body"`
	ScreeningID    *string    `json:"screeningId"`
	CreatedAt      string     `json:"createdAt"`
}

// SenderData names the writer of a message and the role they wrote under.
type SenderData struct {
	UserID   string `json:"userId"`
	FullName string `json:"fullName"`
	Role     string `json:"role"`
}
