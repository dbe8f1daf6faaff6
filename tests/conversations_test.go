package tests

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"aura/app"
	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
)

// enrolDirect enrols record patientID in clinicID straight in the database.
func enrolDirect(t *testing.T, s *testenv.Server, clinicID, patientID string) {
	t.Helper()
	st := repositories.New(s.App.DB.WithContext(testenv.Ctx(t)))
	testenv.Must(t, st.Patients.Enrol(&models.ClinicPatient{ClinicID: clinicID, PatientID: patientID, CreatedAt: time.Now().UTC()}), "enrol")
}

type conversationOut struct {
	ID      string
	Clinic  struct{ ID, Name string }
	Patient struct {
		ID, FullName string
	}
	LastMessage *messageOut
	Unread      int
}

type messageOut struct {
	ID             string
	ConversationID string
	Sender         struct{ UserID, FullName, Role string }
	Body           string
	ScreeningID    *string
	CreatedAt      string
}

func openConversation(t *testing.T, s *testenv.Server, token string, body map[string]any, status int) conversationOut {
	t.Helper()
	var c conversationOut
	s.Do(t, "POST", "/api/conversations", body, token).Expect(t, status, "").Data(t, &c)
	return c
}

func postMessage(t *testing.T, s *testenv.Server, token, convID, body string) messageOut {
	t.Helper()
	var m messageOut
	s.Do(t, "POST", "/api/conversations/"+convID+"/messages", map[string]any{"body": body}, token).Expect(t, http.StatusCreated, "").Data(t, &m)
	return m
}

func messagesOf(t *testing.T, s *testenv.Server, token, convID, query string) []messageOut {
	t.Helper()
	var out struct{ Items []messageOut }
	s.Do(t, "GET", "/api/conversations/"+convID+"/messages"+query, nil, token).Expect(t, http.StatusOK, "").Data(t, &out)
	return out.Items
}

func conversationsOf(t *testing.T, s *testenv.Server, token string) []conversationOut {
	t.Helper()
	var out struct{ Items []conversationOut }
	s.Do(t, "GET", "/api/conversations", nil, token).Expect(t, http.StatusOK, "").Data(t, &out)
	return out.Items
}

func noticesOfKind(t *testing.T, s *testenv.Server, token, kind string) int {
	t.Helper()
	var out struct{ Items []struct{ Type string } }
	s.Do(t, "GET", "/api/notifications?pageSize=100", nil, token).Expect(t, http.StatusOK, "").Data(t, &out)
	n := 0
	for _, it := range out.Items {
		if it.Type == kind {
			n++
		}
	}
	return n
}

// TestConversationsOpen: who may open a conversation, one per patient and
// clinic (201 then 200, the same for the patient and the staff), and the
// refusals: another clinic's staff and a clinic the patient has nothing at
// are 404, a technician 403, staff without patientId and malformed ids 400.
func TestConversationsOpen(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		w := newStaffWorld(t, e.URI(t))
		s := w.s
		enrolDirect(t, s, w.c1, w.p1.ID)
		tech := signUp(t, s, "only.tech@clinic.example")
		addMember(t, s, w.c1, tech.ID, "TECHNICIAN")
		st := repositories.New(s.App.DB.WithContext(testenv.Ctx(t)))
		u, err := st.Users.ByID(tech.ID)
		testenv.Must(t, err, "tech")
		testenv.Must(t, st.Users.SetRoles(u, []string{models.RoleTechnician}, time.Now().UTC()), "tech only")

		c := openConversation(t, s, w.p1.Token, map[string]any{"clinicId": w.c1}, http.StatusCreated)
		if c.Clinic.ID != w.c1 || c.Patient.ID != w.p1.ID || c.LastMessage != nil || c.Unread != 0 {
			t.Fatalf("conversation %+v", c)
		}
		if again := openConversation(t, s, w.p1.Token, map[string]any{"clinicId": w.c1}, http.StatusOK); again.ID != c.ID {
			t.Fatalf("second open: %s, want %s", again.ID, c.ID)
		}
		for _, staff := range []person{w.d1, w.ca1} {
			if got := openConversation(t, s, staff.Token, map[string]any{"clinicId": w.c1, "patientId": w.p1.ID}, http.StatusOK); got.ID != c.ID {
				t.Fatalf("staff open: %s, want %s", got.ID, c.ID)
			}
		}
		// The staff of c2 open p2's (enrolled by a screening there? not
		// here: p2 is not enrolled) -> 404; the staff of c2 for p1 -> 404.
		s.Do(t, "POST", "/api/conversations", map[string]any{"clinicId": w.c1, "patientId": w.p1.ID}, w.d2.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "POST", "/api/conversations", map[string]any{"clinicId": w.c2, "patientId": w.p1.ID}, w.d2.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "POST", "/api/conversations", map[string]any{"clinicId": w.c1}, w.lonely.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "POST", "/api/conversations", map[string]any{"clinicId": w.c2}, w.p1.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "POST", "/api/conversations", map[string]any{"clinicId": w.c1, "patientId": w.p1.ID}, tech.Token).Expect(t, http.StatusForbidden, "FORBIDDEN")
		// A doctor (no PATIENT role) must name the patient.
		s.Do(t, "POST", "/api/conversations", map[string]any{"clinicId": w.c1}, w.d1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "POST", "/api/conversations", testenv.Invalid(map[string]any{"clinicId": "nope"}), w.p1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "POST", "/api/conversations", testenv.Invalid(map[string]any{}), w.p1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "POST", "/api/conversations", testenv.Invalid(map[string]any{"clinicId": w.c1, "patientId": "x"}), w.d1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		var n int64
		testenv.Must(t, s.App.DB.Model(&models.Conversation{}).Count(&n).Error, "count")
		if n != 1 {
			t.Fatalf("%d conversations, want 1", n)
		}
		// Concurrent opens agree on one conversation.
		enrolDirect(t, s, w.c2, w.p2.ID)
		ids := make([]string, 4)
		errs := testenv.Race(4, func(i int) error {
			r := s.Do(t, "POST", "/api/conversations", map[string]any{"clinicId": w.c2}, w.p2.Token)
			if r.Status != http.StatusOK && r.Status != http.StatusCreated {
				t.Errorf("concurrent open: %d %s", r.Status, r.Body)
			}
			var c conversationOut
			r.Data(t, &c)
			ids[i] = c.ID
			return nil
		})
		for i := range ids {
			if errs[i] != nil || ids[i] != ids[0] {
				t.Fatalf("concurrent opens: %v %v", ids, errs)
			}
		}
	})
}

// TestConversationMessages: who may read and write (the patient, DOCTOR and
// CLINIC_ADMIN of the clinic; others 404), what a message may hold, paging
// newest first with before and limit, unread counts and read markers, the
// MESSAGE_RECEIVED notice to the other side, and the audit of staff reads.
func TestConversationMessages(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		w := newStaffWorld(t, e.URI(t))
		s := w.s
		enrolDirect(t, s, w.c1, w.p1.ID)
		c := openConversation(t, s, w.p1.Token, map[string]any{"clinicId": w.c1}, http.StatusCreated)
		path := "/api/conversations/" + c.ID

		m1 := postMessage(t, s, w.p1.Token, c.ID, "Chào bác sĩ,\nI have a question.")
		if m1.ConversationID != c.ID || m1.Sender.UserID != w.p1.ID || m1.Sender.Role != "PATIENT" || m1.Body != "Chào bác sĩ,\nI have a question." || m1.ScreeningID != nil {
			t.Fatalf("message %+v", m1)
		}
		// No doctor is assigned: every DOCTOR and CLINIC_ADMIN is told.
		for name, p := range map[string]person{"d1": w.d1, "ca1": w.ca1} {
			if n := noticesOfKind(t, s, p.Token, "MESSAGE_RECEIVED"); n != 1 {
				t.Fatalf("%s has %d MESSAGE_RECEIVED notices", name, n)
			}
		}
		if n := noticesOfKind(t, s, w.p1.Token, "MESSAGE_RECEIVED"); n != 0 {
			t.Fatalf("the sender was told of their own message")
		}
		// Others: 404 alike for reading, writing and marking.
		for name, p := range map[string]person{"d2": w.d2, "ca2": w.ca2, "t1": w.t1, "p2": w.p2, "admin": w.admin} {
			s.Do(t, "GET", path+"/messages", nil, p.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
			s.Do(t, "POST", path+"/messages", map[string]any{"body": "hi"}, p.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
			s.Do(t, "POST", path+"/read", map[string]any{"upTo": m1.ID}, p.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
			for _, cv := range conversationsOf(t, s, p.Token) {
				if cv.ID == c.ID {
					t.Fatalf("%s lists the conversation", name)
				}
			}
		}
		s.Do(t, "GET", "/api/conversations/22222222-2222-4222-8222-222222222222/messages", nil, w.p1.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")
		s.Do(t, "GET", "/api/conversations/nope/messages", nil, w.p1.Token).Expect(t, http.StatusNotFound, "NOT_FOUND")

		// What a message may hold.
		bad := map[string]any{
			"empty": "", "blank": " \n ", "nul": "a\x00b", "tab": "a\tb", "bell": "a\ab", "cr": "a\r\nb", "del": "a\x7fb",
			"long": strings.Repeat("é", 4001),
		}
		for name, body := range bad {
			r := s.Do(t, "POST", path+"/messages", testenv.Invalid(map[string]any{"body": body}), w.p1.Token)
			// (A NUL is refused as JSON already, by every endpoint.)
			if r.Status != http.StatusBadRequest || (r.Env.Details["body"] == "" && (name != "nul" || r.Env.Code != "INVALID_JSON")) {
				t.Fatalf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		s.Do(t, "POST", path+"/messages", testenv.Invalid(map[string]any{}), w.p1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		long := postMessage(t, s, w.p1.Token, c.ID, strings.Repeat("é", 4000))
		// screeningId: the patient's at this clinic only.
		for _, sid := range []string{w.screening, "22222222-2222-4222-8222-222222222222"} {
			r := s.Do(t, "POST", path+"/messages", map[string]any{"body": "see this", "screeningId": sid}, w.d1.Token)
			if r.Status != http.StatusBadRequest || r.Env.Details["screeningId"] == "" {
				t.Fatalf("screeningId %s: %d %s", sid, r.Status, r.Body)
			}
		}
		var m2 messageOut
		s.Do(t, "POST", path+"/messages", map[string]any{"body": "About this photograph", "screeningId": w.screen1}, w.d1.Token).
			Expect(t, http.StatusCreated, "").Data(t, &m2)
		if m2.ScreeningID == nil || *m2.ScreeningID != w.screen1 || m2.Sender.Role != "DOCTOR" || m2.Sender.UserID != w.d1.ID {
			t.Fatalf("doctor's message %+v", m2)
		}
		if n := noticesOfKind(t, s, w.p1.Token, "MESSAGE_RECEIVED"); n != 1 {
			t.Fatalf("the patient has %d notices", n)
		}
		m3 := postMessage(t, s, w.ca1.Token, c.ID, "From the front desk")
		if m3.Sender.Role != "CLINIC_ADMIN" {
			t.Fatalf("role %s", m3.Sender.Role)
		}

		// Newest first, paged with before and limit.
		all := messagesOf(t, s, w.p1.Token, c.ID, "")
		want := []string{m3.ID, m2.ID, long.ID, m1.ID}
		if len(all) != 4 {
			t.Fatalf("%d messages", len(all))
		}
		for i := range want {
			if all[i].ID != want[i] {
				t.Fatalf("order %d: %s, want %s", i, all[i].ID, want[i])
			}
		}
		page1 := messagesOf(t, s, w.d1.Token, c.ID, "?limit=2")
		page2 := messagesOf(t, s, w.d1.Token, c.ID, "?limit=2&before="+page1[1].ID)
		page3 := messagesOf(t, s, w.d1.Token, c.ID, "?limit=2&before="+page2[1].ID)
		if len(page1) != 2 || len(page2) != 2 || len(page3) != 0 || page1[0].ID != m3.ID || page2[0].ID != long.ID || page2[1].ID != m1.ID {
			t.Fatalf("pages %v %v %v", page1, page2, page3)
		}
		s.Do(t, "GET", path+"/messages?limit=101", testenv.Invalid(nil), w.p1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "GET", path+"/messages?limit=0", testenv.Invalid(nil), w.p1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "GET", path+"/messages?before=22222222-2222-4222-8222-222222222222", nil, w.p1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")

		// Unread counts and read markers: one's own messages never count.
		unread := func(p person) int {
			for _, cv := range conversationsOf(t, s, p.Token) {
				if cv.ID == c.ID {
					if cv.LastMessage == nil || cv.LastMessage.ID != m3.ID {
						t.Fatalf("lastMessage %+v", cv.LastMessage)
					}
					return cv.Unread
				}
			}
			t.Fatalf("conversation not listed")
			return 0
		}
		if p, d := unread(w.p1), unread(w.d1); p != 2 || d != 3 {
			t.Fatalf("unread: patient %d (want 2), doctor %d (want 3)", p, d)
		}
		var rd struct{ Unread int }
		s.Do(t, "POST", path+"/read", map[string]any{"upTo": m2.ID}, w.p1.Token).Expect(t, http.StatusOK, "").Data(t, &rd)
		if rd.Unread != 1 || unread(w.p1) != 1 {
			t.Fatalf("after reading up to m2: %d", rd.Unread)
		}
		// The marker never moves back.
		s.Do(t, "POST", path+"/read", map[string]any{"upTo": m1.ID}, w.p1.Token).Expect(t, http.StatusOK, "").Data(t, &rd)
		if rd.Unread != 1 {
			t.Fatalf("the marker moved back: %d", rd.Unread)
		}
		s.Do(t, "POST", path+"/read", map[string]any{"upTo": m3.ID}, w.p1.Token).Expect(t, http.StatusOK, "").Data(t, &rd)
		if rd.Unread != 0 || unread(w.d1) != 3 {
			t.Fatalf("after reading all: %d; the doctor's count moved", rd.Unread)
		}
		s.Do(t, "POST", path+"/read", map[string]any{"upTo": "22222222-2222-4222-8222-222222222222"}, w.p1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")
		s.Do(t, "POST", path+"/read", testenv.Invalid(map[string]any{}), w.p1.Token).Expect(t, http.StatusBadRequest, "VALIDATION_FAILED")

		// Staff reads are audited, the patient's are not.
		messagesOf(t, s, w.ca1.Token, c.ID, "")
		count := func(actor string) int64 {
			var n int64
			testenv.Must(t, s.App.DB.Model(&models.AuditLog{}).Where("action = ? AND entity_id = ? AND actor_id = ?",
				models.AuditMessagesRead, c.ID, actor).Count(&n).Error, "audit")
			return n
		}
		if count(w.d1.ID) < 3 || count(w.ca1.ID) < 1 || count(w.p1.ID) != 0 {
			t.Fatalf("audit rows: d1 %d, ca1 %d, p1 %d", count(w.d1.ID), count(w.ca1.ID), count(w.p1.ID))
		}

		// With an assigned doctor, only that doctor is told of the (d1 and ca1
		// were told of the two messages before)
		// patient's message.
		d3 := makeDoctor(t, s, w.admin.Token, "doctor.three@clinic.example")
		attach(t, s, w.admin.Token, w.c1, d3.ID, "BS-003").Expect(t, http.StatusOK, "")
		s.Do(t, "PUT", "/api/clinics/"+w.c1+"/patients/"+w.p1.ID+"/doctor", map[string]any{"doctorId": d3.ID}, w.ca1.Token).Expect(t, http.StatusOK, "")
		postMessage(t, s, w.p1.Token, c.ID, "One more question")
		if a, b, c3 := noticesOfKind(t, s, w.d1.Token, "MESSAGE_RECEIVED"), noticesOfKind(t, s, w.ca1.Token, "MESSAGE_RECEIVED"), noticesOfKind(t, s, d3.Token, "MESSAGE_RECEIVED"); a != 2 || b != 2 || c3 != 1 {
			t.Fatalf("notices after assignment: d1 %d, ca1 %d, d3 %d", a, b, c3)
		}
	})
}

// TestConversationRateLimit: limits.messages.per_minute per sender, across
// the conversations; beyond it 429 with Retry-After, and nothing stored.
func TestConversationRateLimit(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{"AURA_LIMITS_MESSAGES_PER_MINUTE": "3"}))
		w := worldOn(t, s)
		enrolDirect(t, s, w.c1, w.p1.ID)
		c := openConversation(t, s, w.p1.Token, map[string]any{"clinicId": w.c1}, http.StatusCreated)
		for i := range 3 {
			postMessage(t, s, w.p1.Token, c.ID, "message "+strconv.Itoa(i))
		}
		r := s.Do(t, "POST", "/api/conversations/"+c.ID+"/messages", map[string]any{"body": "one too many"}, w.p1.Token).Expect(t, http.StatusTooManyRequests, "RATE_LIMITED")
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
			t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		// The doctor has a budget of their own.
		postMessage(t, s, w.d1.Token, c.ID, "answer")
		if n := len(messagesOf(t, s, w.p1.Token, c.ID, "")); n != 4 {
			t.Fatalf("%d messages stored, want 4", n)
		}
	})
}

// TestConversationUnreadEmail: a message still unread messages.email_after
// after it was sent is emailed to its recipients by housekeeping, once per
// message and recipient whichever instance runs it; a read one is not.
func TestConversationUnreadEmail(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		s := testenv.Start(t, testenv.Config(t, e.URI(t), map[string]string{"AURA_MESSAGES_EMAIL_AFTER": "1h"}))
		w := worldOn(t, s)
		enrolDirect(t, s, w.c1, w.p1.ID)
		c := openConversation(t, s, w.p1.Token, map[string]any{"clinicId": w.c1}, http.StatusCreated)
		fromPatient := postMessage(t, s, w.p1.Token, c.ID, "Doctor, are my results ready?")
		fromDoctor := postMessage(t, s, w.d1.Token, c.ID, "Yes, they are.")
		// The patient reads the doctor's answer; the doctor reads nothing.
		s.Do(t, "POST", "/api/conversations/"+c.ID+"/read", map[string]any{"upTo": fromDoctor.ID}, w.p1.Token).Expect(t, http.StatusOK, "")
		_ = fromPatient
		mails := func() map[string]int {
			var rows []models.OutboxMessage
			testenv.Must(t, s.App.DB.Where("kind = ?", models.MailMessageReceived).Find(&rows).Error, "outbox")
			out := map[string]int{}
			for _, r := range rows {
				out[r.Recipient]++
				if strings.Contains(r.TextBody, "results ready") {
					t.Fatalf("the email quotes the message")
				}
			}
			return out
		}
		run := func(at time.Time) {
			h := app.NewHousekeeper(s.App.DB, s.App.Cfg.Housekeeping, testenv.Logger(t))
			h.Clock, h.Conversations = func() time.Time { return at }, s.App.Conversations
			_, ran, err := h.RunOnce(testenv.Ctx(t))
			if err != nil || !ran {
				t.Fatalf("housekeeping: %v %v", ran, err)
			}
		}
		run(time.Now().Add(30 * time.Minute))
		if got := mails(); len(got) != 0 {
			t.Fatalf("mailed before email_after: %v", got)
		}
		run(time.Now().Add(2 * time.Hour))
		got := mails()
		if len(got) != 1 || got[w.d1.Email] != 1 {
			t.Fatalf("mails %v, want one to the doctor", got)
		}
		// Two instances later: still one.
		later := time.Now().Add(5 * time.Hour)
		testenv.Race(2, func(int) error {
			h := app.NewHousekeeper(s.App.DB, s.App.Cfg.Housekeeping, testenv.Logger(t))
			h.Clock, h.Conversations = func() time.Time { return later }, s.App.Conversations
			_, _, err := h.RunOnce(testenv.Ctx(t))
			return err
		})
		if got := mails(); len(got) != 1 || got[w.d1.Email] != 1 {
			t.Fatalf("mails after more runs %v", got)
		}
		var owed int64
		testenv.Must(t, s.App.DB.Model(&models.MessageMail{}).Count(&owed).Error, "count")
		if owed != 0 {
			t.Fatalf("%d owed emails left", owed)
		}
	})
}

// worldOn builds the clinic world's people on an already started server.
func worldOn(t *testing.T, s *testenv.Server) *clinicWorld {
	t.Helper()
	w := &clinicWorld{s: s}
	w.admin = person{Email: "admin@clinic.example", Token: makeAdmin(t, s, "admin@clinic.example")}
	w.c1 = createClinic(t, s, w.admin.Token, "Phòng khám An Bình")
	w.d1 = makeDoctor(t, s, w.admin.Token, "doctor.one@clinic.example")
	attach(t, s, w.admin.Token, w.c1, w.d1.ID, "BS-001").Expect(t, http.StatusOK, "")
	w.p1 = signUp(t, s, "ngoc@patient.example")
	w.screen1 = seedScreening(t, s, w.p1, w.c1)
	return w
}
