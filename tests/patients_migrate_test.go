package tests

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"aura/database"
	"aura/internal/testenv"
	"aura/models"
	"aura/repositories"
)

// v1Patient and v1Screening are the patients and screenings tables as the
// AURA version before patient records had their own id made them: the
// record keyed by the account (user_id), screenings.patient_id referencing
// patients.user_id.
type v1Patient struct {
	UserID            string  `gorm:"type:varchar(36);primaryKey"`
	PatientCode       string  `gorm:"type:varchar(20);not null;uniqueIndex"`
	DateOfBirth       *string `gorm:"type:varchar(10)"`
	Sex               *string `gorm:"type:varchar(10)"`
	Diabetes          *bool   `gorm:"type:boolean"`
	DiabetesSinceYear *int
	Hypertension      *bool   `gorm:"type:boolean"`
	HistoryNotes      *string `gorm:"type:text"`
	CreatedAt         time.Time
	UpdatedAt         time.Time
	User              *models.User `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
}

func (v1Patient) TableName() string { return "patients" }

type v1Screening struct {
	ID              string  `gorm:"type:varchar(36);primaryKey;index:idx_screenings_recent,priority:2"`
	PatientID       string  `gorm:"type:varchar(36);not null;index:idx_screenings_patient,priority:1"`
	ClinicID        string  `gorm:"type:varchar(36);not null;index:idx_screenings_clinic,priority:1;index:idx_screenings_recent,priority:3"`
	Status          string  `gorm:"type:varchar(20);not null;index:idx_screenings_clinic,priority:2"`
	Eye             string  `gorm:"type:varchar(5);not null"`
	Lang            string  `gorm:"type:varchar(5);not null;default:'vi'"`
	ImageKey        string  `gorm:"type:varchar(200);not null"`
	ImageType       string  `gorm:"type:varchar(20);not null"`
	ImageBytes      int64   `gorm:"not null"`
	ImageWidth      int     `gorm:"not null"`
	ImageHeight     int     `gorm:"not null"`
	ImageSHA256     string  `gorm:"type:varchar(64);not null"`
	RiskLevel       *string `gorm:"type:varchar(10);index"`
	ReviewRiskLevel *string `gorm:"type:varchar(10)"`
	CompletedAt     *time.Time
	Attempts        int       `gorm:"not null;default:0"`
	CreatedAt       time.Time `gorm:"not null;index:idx_screenings_patient,priority:2;index:idx_screenings_clinic,priority:3;index:idx_screenings_recent,priority:1"`
	UpdatedAt       time.Time `gorm:"not null"`

	Patient *v1Patient     `gorm:"foreignKey:PatientID;references:UserID;constraint:OnDelete:RESTRICT"`
	Clinic  *models.Clinic `gorm:"foreignKey:ClinicID;constraint:OnDelete:RESTRICT"`
}

func (v1Screening) TableName() string { return "screenings" }

// v1Data is what buildV1 stored.
type v1Data struct {
	users   []models.User
	clinics []models.Clinic
	shots   []v1Screening
	now     time.Time
	name1   string
}

// buildV1 makes db a database of the version before patient records, with
// three patients, two clinics and five screenings.
func buildV1(t *testing.T, db *gorm.DB) v1Data {
	t.Helper()
	var old []any
	for _, m := range models.All() {
		switch m.(type) {
		case *models.Patient, *models.ClinicPatient, *models.Screening:
		// Tables that came later and reference patients or screenings: GORM
		// would create today's patients and screenings before them.
		case *models.Alert, *models.Conversation, *models.Message, *models.ConversationRead, *models.MessageMail:
		default:
			old = append(old, m)
		}
	}
	testenv.Must(t, db.AutoMigrate(old...), "old tables")
	testenv.Must(t, db.AutoMigrate(&v1Patient{}, &v1Screening{}), "old patients and screenings")
	testenv.Must(t, db.Create(&models.SeedRoles).Error, "roles")

	now := time.Date(2030, 3, 1, 8, 0, 0, 0, time.UTC)
	name1, name2 := "Nguyễn Văn An", "Đặng Thị Bích"
	users := []models.User{
		{ID: "11111111-1111-4111-8111-111111111111", Email: "an@example.com", PasswordHash: "x", FullName: &name1, IsActive: true, CreatedAt: now},
		{ID: "22222222-2222-4222-8222-222222222222", Email: "bich@example.com", PasswordHash: "x", FullName: &name2, IsActive: true, CreatedAt: now},
		{ID: "33333333-3333-4333-8333-333333333333", Email: "no.name@example.com", PasswordHash: "x", IsActive: true, CreatedAt: now},
	}
	testenv.Must(t, db.Create(&users).Error, "users")
	clinics := []models.Clinic{
		{ID: "c1c1c1c1-0000-4000-8000-000000000001", Name: "Mắt Sài Gòn", NameKey: "mắt sài gòn", Status: models.ClinicActive, CreatedAt: now},
		{ID: "c2c2c2c2-0000-4000-8000-000000000002", Name: "Hà Nội", NameKey: "hà nội", Status: models.ClinicActive, CreatedAt: now},
	}
	testenv.Must(t, db.Create(&clinics).Error, "clinics")
	for i, u := range users {
		testenv.Must(t, db.Create(&v1Patient{UserID: u.ID, PatientCode: "AU-TEST-000" + string(rune('1'+i)), CreatedAt: now, UpdatedAt: now}).Error, "patient")
	}
	lvl := func(s string) *string { return &s }
	shots := []v1Screening{
		// An: two at clinic 1, the newer analysed moderate then reviewed high; one at clinic 2, low.
		{ID: "a0000000-0000-4000-8000-000000000001", PatientID: users[0].ID, ClinicID: clinics[0].ID, Status: models.StatusReviewed, RiskLevel: lvl("low"), CreatedAt: now},
		{ID: "a0000000-0000-4000-8000-000000000002", PatientID: users[0].ID, ClinicID: clinics[0].ID, Status: models.StatusReviewed, RiskLevel: lvl("moderate"), ReviewRiskLevel: lvl("high"), CreatedAt: now.Add(time.Hour)},
		{ID: "a0000000-0000-4000-8000-000000000003", PatientID: users[0].ID, ClinicID: clinics[1].ID, Status: models.StatusAwaitingReview, RiskLevel: lvl("low"), CreatedAt: now},
		// Bích: analysed once, then a newer one still queued.
		{ID: "b0000000-0000-4000-8000-000000000001", PatientID: users[1].ID, ClinicID: clinics[0].ID, Status: models.StatusAwaitingReview, RiskLevel: lvl("critical"), CreatedAt: now},
		{ID: "b0000000-0000-4000-8000-000000000002", PatientID: users[1].ID, ClinicID: clinics[0].ID, Status: models.StatusQueued, CreatedAt: now.Add(2 * time.Hour)},
	}
	for i := range shots {
		s := &shots[i]
		s.Eye, s.Lang, s.ImageKey, s.ImageType, s.ImageBytes, s.ImageWidth, s.ImageHeight, s.ImageSHA256, s.UpdatedAt =
			"left", "vi", "screenings/"+s.ID+".png", "image/png", 10, 2, 2, "00", s.CreatedAt
	}
	testenv.Must(t, db.Create(&shots).Error, "screenings")

	return v1Data{users, clinics, shots, now, name1}
}

// TestMigratePatientRecords: a database of the version before patient
// records (patients keyed by the account, screenings pointing at it) with
// screenings migrates with nothing lost: every record keeps its account as
// its id, every screening its patient; the patients of a clinic's screenings
// are enrolled there with their latest risk level (the review's when
// reviewed); names are folded for search; screenings now reference the
// record id (an unknown one is refused); a second start changes nothing.
func TestMigratePatientRecords(t *testing.T) {
	t.Parallel()
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		ctx := context.Background()
		db, err := database.OpenDB(ctx, testenv.Config(t, e.URI(t), nil), testenv.Logger(t))
		testenv.Must(t, err, "open")
		t.Cleanup(func() { database.Close(db) })
		v := buildV1(t, db)
		users, clinics, shots, now, name1 := v.users, v.clinics, v.shots, v.now, v.name1
		for run := range 2 {
			testenv.Must(t, database.Migrate(ctx, db, testenv.Logger(t)), "migrate (run %d)", run+1)
		}

		var got []models.Patient
		testenv.Must(t, db.Order("patient_code").Find(&got).Error, "patients")
		if len(got) != 3 {
			t.Fatalf("patients after migration: %d", len(got))
		}
		wantKeys := []string{"nguyen van an", "dang thi bich", "no.name"}
		for i, p := range got {
			if p.ID != users[i].ID || p.UserID == nil || *p.UserID != users[i].ID || p.PatientCode != "AU-TEST-000"+string(rune('1'+i)) {
				t.Errorf("patient %d: id %s user %v code %s", i, p.ID, p.UserID, p.PatientCode)
			}
			if p.NameKey != wantKeys[i] {
				t.Errorf("patient %d: name key %q, want %q", i, p.NameKey, wantKeys[i])
			}
		}
		var after []models.Screening
		testenv.Must(t, db.Order("id").Find(&after).Error, "screenings")
		if len(after) != len(shots) {
			t.Fatalf("screenings after migration: %d, want %d", len(after), len(shots))
		}
		for i, s := range after {
			w := shots[i]
			if s.ID != w.ID || s.PatientID != w.PatientID || s.ClinicID != w.ClinicID || s.Status != w.Status ||
				models.Deref(s.Analysis.RiskLevel) != models.Deref(w.RiskLevel) || s.ImageKey != w.ImageKey || !s.CreatedAt.Equal(w.CreatedAt) {
				t.Errorf("screening %s changed: %+v", w.ID, s)
			}
		}
		var enrolled []models.ClinicPatient
		testenv.Must(t, db.Order("patient_id, clinic_id").Find(&enrolled).Error, "enrolments")
		want := []struct{ clinic, patient, risk string }{
			{clinics[0].ID, users[0].ID, "high"},
			{clinics[1].ID, users[0].ID, "low"},
			{clinics[0].ID, users[1].ID, "critical"},
		}
		if len(enrolled) != len(want) {
			t.Fatalf("enrolments: %+v", enrolled)
		}
		for i, w := range want {
			g := enrolled[i]
			if g.ClinicID != w.clinic || g.PatientID != w.patient || models.Deref(g.LatestRiskLevel) != w.risk || g.NameKey == "" {
				t.Errorf("enrolment %d: %s/%s %v, want %+v", i, g.ClinicID, g.PatientID, models.Deref(g.LatestRiskLevel), w)
			}
		}
		// screenings.patient_id now references patients.id.
		bad := shots[4]
		bad.ID, bad.PatientID = "c0000000-0000-4000-8000-000000000001", "99999999-9999-4999-8999-999999999999"
		if err := db.Create(&models.Screening{ID: bad.ID, PatientID: bad.PatientID, ClinicID: bad.ClinicID, Status: bad.Status,
			Eye: "left", Lang: "vi", ImageKey: "k", ImageType: "image/png", ImageBytes: 1, ImageWidth: 1, ImageHeight: 1,
			ImageSHA256: "00", CreatedAt: now, UpdatedAt: now}).Error; err == nil {
			t.Fatal("a screening of an unknown patient record was stored")
		}
		// An accountless record takes screenings.
		st := repositories.New(db)
		rec := &models.Patient{ID: "d0000000-0000-4000-8000-000000000001", PatientCode: "AU-TEST-0009", NameKey: "x", CreatedAt: now, UpdatedAt: now}
		testenv.Must(t, st.Patients.Create(rec), "accountless record")
		testenv.Must(t, db.Create(&models.Screening{ID: bad.ID, PatientID: rec.ID, ClinicID: bad.ClinicID, Status: bad.Status,
			Eye: "left", Lang: "vi", ImageKey: "k", ImageType: "image/png", ImageBytes: 1, ImageWidth: 1, ImageHeight: 1,
			ImageSHA256: "00", CreatedAt: now, UpdatedAt: now}).Error, "screening of an accountless record")
		p, err := st.Patients.Get(users[0].ID, repositories.Scope{All: true})
		testenv.Must(t, err, "get by the user id")
		if p.FullName != name1 || len(p.Clinics) != 2 {
			t.Fatalf("record read back: %+v", p)
		}
	})
}

// TestCopyFromBeforeRecords: aura db copy from a database of the version
// before patient records gives every record its account's id and enrols the
// patients of the screenings, as starting on it in place does.
func TestCopyFromBeforeRecords(t *testing.T) {
	t.Parallel()
	a, b := sqliteURI(t, "a.db"), sqliteURI(t, "b.db")
	src := openRaw(t, a)
	v := buildV1(t, src)
	closeRaw(src)
	mustCopy(t, a, b, nil)
	db := openRaw(t, b)
	var n int64
	testenv.Must(t, db.Model(&models.Patient{}).Where("id = user_id").Count(&n).Error, "records")
	if n != int64(len(v.users)) {
		t.Fatalf("records keyed by their account: %d, want %d", n, len(v.users))
	}
	testenv.Must(t, db.Model(&models.Screening{}).Count(&n).Error, "screenings")
	if n != int64(len(v.shots)) {
		t.Fatalf("screenings copied: %d", n)
	}
	var enrolled []models.ClinicPatient
	testenv.Must(t, db.Where("latest_risk_level IS NOT NULL").Find(&enrolled).Error, "enrolments")
	if len(enrolled) != 3 {
		t.Fatalf("enrolments: %+v", enrolled)
	}
	var key string
	testenv.Must(t, db.Model(&models.Patient{}).Where("id = ?", v.users[1].ID).Pluck("name_key", &key).Error, "name key")
	if key != "dang thi bich" {
		t.Fatalf("name key %q", key)
	}
}
