package repositories_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
)

// enqueue queues a message created at createdAt and returns it.
func enqueue(t *testing.T, st *repositories.Store, createdAt time.Time, edit func(m *models.OutboxMessage)) *models.OutboxMessage {
	t.Helper()
	m := &models.OutboxMessage{Kind: models.MailPasswordChanged, Recipient: "ann@example.com", Subject: "s",
		TextBody: "text", HTMLBody: "<p>html</p>", CreatedAt: createdAt}
	if edit != nil {
		edit(m)
	}
	testenv.Must(t, st.Outbox.Enqueue(m), "enqueue")
	return m
}

func ids(rows []models.OutboxMessage) []uint64 {
	out := make([]uint64, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// TestOutboxClaim: Claim leases due rows, oldest due first and up to its
// limit, counting an attempt; a live lease keeps a row from other claimers,
// an expired one lets the row be claimed again (and the late owner can no
// longer mark it); sent, failed-until-later and stale rows are not claimed.
func TestOutboxClaim(t *testing.T) {
	const lease = time.Minute
	type claim struct {
		owner string
		at    time.Duration // after t0
		limit int
		// want lists the claimed rows by their index in the case's queue,
		// with the attempts each then has.
		want     []int
		attempts []int
	}
	cases := []struct {
		name string
		// queue: the creation offset of each row; edit may change a row.
		queue []time.Duration
		edit  func(i int, m *models.OutboxMessage)
		// between runs after claim number `after` (1-based), given the rows
		// of the queue; it checks or changes them.
		after   int
		between func(t *testing.T, st *repositories.Store, rows []*models.OutboxMessage)
		claims  []claim
	}{
		{name: "due rows oldest first, up to the limit",
			queue: []time.Duration{2 * time.Second, 0, time.Second, 0},
			edit: func(i int, m *models.OutboxMessage) {
				if i == 3 {
					m.NextAttemptAt = t0.Add(time.Hour) // not due yet
				}
			},
			claims: []claim{
				{owner: "a", at: 5 * time.Second, limit: 2, want: []int{1, 2}, attempts: []int{1, 1}},
				{owner: "b", at: 5 * time.Second, limit: 10, want: []int{0}, attempts: []int{1}},
				{owner: "c", at: 5 * time.Second, limit: 10},
				// An hour on, the leases have expired and the last row is due.
				{owner: "d", at: time.Hour, limit: 10, want: []int{1, 2, 0, 3}, attempts: []int{2, 2, 2, 1}},
			}},
		{name: "a live lease keeps the row, an expired one frees it",
			queue: []time.Duration{0},
			claims: []claim{
				{owner: "a", at: 0, limit: 1, want: []int{0}, attempts: []int{1}},
				{owner: "b", at: lease - time.Second, limit: 1},
				{owner: "c", at: lease, limit: 1, want: []int{0}, attempts: []int{2}},
				{owner: "d", at: lease + time.Second, limit: 1},
			},
			after: 3,
			between: func(t *testing.T, st *repositories.Store, rows []*models.OutboxMessage) {
				if ok, err := st.Outbox.MarkSent(rows[0].ID, "a", t0.Add(lease)); err != nil || ok {
					t.Errorf("the owner whose lease was taken over marked the row sent: %v, %v", ok, err)
				}
				if ok, err := st.Outbox.MarkSent(rows[0].ID, "c", t0.Add(lease)); err != nil || !ok {
					t.Errorf("the current owner could not mark the row sent: %v, %v", ok, err)
				}
			}},
		{name: "a sent row is never claimed again",
			queue: []time.Duration{0},
			claims: []claim{
				{owner: "a", at: 0, limit: 1, want: []int{0}, attempts: []int{1}},
				{owner: "b", at: 2 * lease, limit: 1},
			},
			after: 1,
			between: func(t *testing.T, st *repositories.Store, rows []*models.OutboxMessage) {
				if ok, err := st.Outbox.MarkSent(rows[0].ID, "a", t0); err != nil || !ok {
					t.Fatalf("MarkSent: %v, %v", ok, err)
				}
			}},
		{name: "a failed row waits for its next attempt",
			queue: []time.Duration{0},
			claims: []claim{
				{owner: "a", at: 0, limit: 1, want: []int{0}, attempts: []int{1}},
				{owner: "b", at: 5*time.Minute - time.Second, limit: 1},
				{owner: "c", at: 5 * time.Minute, limit: 1, want: []int{0}, attempts: []int{2}},
			},
			after: 1,
			between: func(t *testing.T, st *repositories.Store, rows []*models.OutboxMessage) {
				testenv.Must(t, st.Outbox.MarkFailed(rows[0].ID, "a", t0.Add(5*time.Minute), "421 try later"), "MarkFailed")
			}},
		{name: "a released row is claimable at once without counting the attempt",
			queue: []time.Duration{0},
			claims: []claim{
				{owner: "a", at: 0, limit: 1, want: []int{0}, attempts: []int{1}},
				{owner: "b", at: time.Second, limit: 1, want: []int{0}, attempts: []int{1}},
			},
			after: 1,
			between: func(t *testing.T, st *repositories.Store, rows []*models.OutboxMessage) {
				testenv.Must(t, st.Outbox.Release(rows[0].ID, "a"), "Release")
			}},
		{name: "a row whose link expired is not claimed",
			queue: []time.Duration{0, 0},
			edit: func(i int, m *models.OutboxMessage) {
				if i == 0 {
					at := t0.Add(time.Minute)
					m.DiscardAfter = &at
				}
			},
			claims: []claim{
				{owner: "a", at: time.Minute, limit: 10, want: []int{1}, attempts: []int{1}},
			},
		},
	}
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		db, st := open(t, e)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				testenv.Must(t, db.Exec("DELETE FROM outbox").Error, "empty the outbox")
				var rows []*models.OutboxMessage
				for i, at := range c.queue {
					rows = append(rows, enqueue(t, st, t0.Add(at), func(m *models.OutboxMessage) {
						if c.edit != nil {
							c.edit(i, m)
						}
					}))
				}
				for n, cl := range c.claims {
					got, err := st.Outbox.Claim(cl.owner, t0.Add(cl.at), lease, cl.limit)
					if err != nil {
						t.Fatalf("claim %d: %v", n+1, err)
					}
					var want []uint64
					for _, i := range cl.want {
						want = append(want, rows[i].ID)
					}
					if !slices.Equal(ids(got), want) && len(got)+len(want) > 0 {
						t.Fatalf("claim %d by %s at +%v: rows %v, want %v", n+1, cl.owner, cl.at, ids(got), want)
					}
					for i, r := range got {
						until := t0.Add(cl.at + lease)
						if r.LockedBy != cl.owner || r.LockedUntil == nil || !r.LockedUntil.Equal(until) || r.Attempts != cl.attempts[i] {
							t.Errorf("claim %d: row %d locked by %q until %v after %d attempts; want %q, %v, %d",
								n+1, r.ID, r.LockedBy, r.LockedUntil, r.Attempts, cl.owner, until, cl.attempts[i])
						}
						if r.TextBody == "" || r.Recipient == "" {
							t.Errorf("claim %d: row %d came back without its message", n+1, r.ID)
						}
					}
					if n+1 == c.after {
						c.between(t, st, rows)
					}
				}
			})
		}
	})
}

// TestOutboxConcurrentClaimers: senders claiming at the same time never get
// the same row, and together they get every due row.
func TestOutboxConcurrentClaimers(t *testing.T) {
	const rows, claimers, batch = 40, 4, 3
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		_, st := open(t, e)
		for i := range rows {
			enqueue(t, st, t0.Add(time.Duration(i)*time.Millisecond), nil)
		}
		var mu sync.Mutex
		claimedBy := map[uint64][]string{}
		errs := testenv.Race(claimers, func(i int) error {
			for n := 0; ; n++ {
				owner := fmt.Sprintf("sender%d/%d", i, n)
				got, err := st.Outbox.Claim(owner, t0.Add(time.Second), time.Minute, batch)
				if err != nil || len(got) == 0 {
					return err
				}
				if len(got) > batch {
					return fmt.Errorf("%s claimed %d rows, more than its limit of %d", owner, len(got), batch)
				}
				mu.Lock()
				for _, r := range got {
					claimedBy[r.ID] = append(claimedBy[r.ID], owner)
				}
				mu.Unlock()
			}
		})
		for i, err := range errs {
			testenv.Must(t, err, "claimer %d", i)
		}
		for id, owners := range claimedBy {
			if len(owners) != 1 {
				t.Errorf("row %d claimed by %v", id, owners)
			}
		}
		if len(claimedBy) != rows {
			t.Errorf("%d rows claimed, want all %d", len(claimedBy), rows)
		}
		if got, err := st.Outbox.Claim("late", t0.Add(time.Second), time.Minute, batch); err != nil || len(got) != 0 {
			t.Errorf("a claim after the others got %v, %v; want nothing", ids(got), err)
		}
	})
}
