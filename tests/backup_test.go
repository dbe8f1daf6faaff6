package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aura/app"
	"aura/backup"
	"aura/config"
	"aura/dbcopy"
	"aura/internal/testenv"
	"aura/models"
	"aura/storage"
)

// backupKey is the storage key of the backup tests: the store, and so the
// backups, are encrypted at rest.
const backupKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// backupWorld is a server with a clinic and a patient who uploaded
// screenings, some analysed.
type backupWorld struct {
	s       *testenv.Server
	uri     string // the database
	patient person
	ids     []string
}

func backupServer(t *testing.T, uri string, env map[string]string) *testenv.Server {
	t.Helper()
	vals := map[string]string{"AURA_STORAGE_ENCRYPTION_KEY": backupKey}
	for k, v := range env {
		vals[k] = v
	}
	return testenv.Start(t, testenv.Config(t, uri, vals))
}

func newBackupWorld(t *testing.T, e testenv.Engine, uploads, analysed int) *backupWorld {
	t.Helper()
	w := &backupWorld{uri: e.URI(t)}
	w.s = backupServer(t, w.uri, nil)
	adm := makeAdmin(t, w.s, "admin@backup.example")
	createClinic(t, w.s, adm, "Phòng khám Sao Lưu")
	w.patient = signUp(t, w.s, "minh@patient.example")
	jpg, _ := fundusLarge(t)
	for range uploads {
		var sc screening
		upload(t, w.s, w.patient.Token, form{image: jpg, fields: map[string]string{"eye": "left"}}, nil).
			Expect(t, http.StatusAccepted, "").Data(t, &sc)
		w.ids = append(w.ids, sc.ID)
	}
	for range analysed {
		ran, err := w.s.App.Analysis.RunOne(testenv.Ctx(t))
		testenv.Must(t, err, "analyse")
		if !ran {
			break
		}
	}
	return w
}

// takeBackup backs up the world's server to a fresh directory.
func (w *backupWorld) takeBackup(t *testing.T, opts func(*backup.Options)) (*backup.Result, string) {
	t.Helper()
	dir := t.TempDir()
	o := backup.Options{DB: w.s.App.Cfg.Database.DSN, Store: w.s.App.Blobs, To: "file://" + dir, Version: "test"}
	if opts != nil {
		opts(&o)
	}
	res, err := backup.Run(testenv.Ctx(t), o)
	testenv.Must(t, err, "backup")
	return res, dir
}

// target is an empty database and store to restore into.
type target struct {
	uri   string
	dsn   config.DSN
	dir   string
	store *storage.Store
	cfg   *config.Config
}

func newTarget(t *testing.T, uri, key string) *target {
	t.Helper()
	tg := &target{uri: uri, dsn: mustDSN(t, uri), dir: t.TempDir()}
	env := map[string]string{"AURA_STORAGE_URI": "file://" + tg.dir}
	if key != "" {
		env["AURA_STORAGE_ENCRYPTION_KEY"] = key
	}
	tg.cfg = testenv.Config(t, uri, env)
	st, err := app.OpenStore(testenv.Ctx(t), tg.cfg, testenv.Logger(t))
	testenv.Must(t, err, "open target store")
	t.Cleanup(func() { st.Close() })
	tg.store = st
	return tg
}

func (tg *target) restore(t *testing.T, from string) (*backup.Manifest, error) {
	t.Helper()
	var out bytes.Buffer
	m, err := backup.Restore(testenv.Ctx(t), backup.RestoreOptions{From: from, DB: tg.dsn, Store: tg.store, Out: &out})
	t.Logf("restore: %s", out.String())
	return m, err
}

// storedKeys lists the target store's objects.
func storedKeys(t *testing.T, st *storage.Store) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	testenv.Must(t, st.Walk(testenv.Ctx(t), "", func(k string, _ int64) error { keys[k] = true; return nil }), "walk")
	return keys
}

func backupEngines(t *testing.T, fn func(t *testing.T, e testenv.Engine)) {
	testenv.ForEach(t, func(t *testing.T, e testenv.Engine) {
		if e.Name == "sqlite-memory" {
			t.Skip("an in-memory database cannot be backed up by another connection (refused, see TestBackupRefusesMemory)")
		}
		fn(t, e)
	})
}

// TestBackupRestoreRoundTrip: screenings uploaded and analysed, backed up
// while the server runs, restored into an empty database and store of the
// same engine (and, from SQLite, into PostgreSQL): every row is equal, the
// patient signs in on a server started on the restored set and gets the
// very image bytes back. The backup keeps the objects encrypted as stored,
// and encrypts its database file with the same key.
func TestBackupRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	backupEngines(t, func(t *testing.T, e testenv.Engine) {
		w := newBackupWorld(t, e, 3, 2)
		res, dir := w.takeBackup(t, nil)
		m := res.Manifest
		if n, _ := m.Objects(); n < 5 || m.Tables["screenings"] != 3 || !m.DatabaseEncrypted {
			t.Fatalf("manifest: %d objects, tables %v, encrypted %v", n, m.Tables, m.DatabaseEncrypted)
		}
		jpg, _ := fundusLarge(t)
		for _, f := range m.Files {
			raw, err := os.ReadFile(filepath.Join(dir, res.Name, f.Path))
			testenv.Must(t, err, "read %s", f.Path)
			if !bytes.HasPrefix(raw, []byte("AURAENC")) || bytes.Contains(raw, jpg[:64]) {
				t.Fatalf("%s is not encrypted in the backup", f.Path)
			}
		}
		srcDB := openRaw(t, w.uri)
		defer closeRaw(srcDB)
		want := dump(t, srcDB)

		check := func(t *testing.T, tg *target) {
			_, err := tg.restore(t, "file://"+dir) // the location: its newest backup
			testenv.Must(t, err, "restore")
			got := openRaw(t, tg.uri)
			sameDump(t, "restored", want, dump(t, got))
			closeRaw(got)
			keys := storedKeys(t, tg.store)
			if n, _ := m.Objects(); len(keys) != n {
				t.Fatalf("restored %d objects, manifest %d", len(keys), n)
			}
			tg.store.Close()
			s2 := testenv.Start(t, tg.cfg)
			tok := login(t, s2, w.patient.Email, goodPassword).AccessToken
			for _, id := range w.ids {
				status, _, body := rawGet(t, s2, "/api/screenings/"+id+"/image", tok, nil)
				if status != 200 || !bytes.Equal(body, jpg) {
					t.Fatalf("restored image %s: %d, %d bytes", id, status, len(body))
				}
			}
			status, _, _ := rawGet(t, s2, "/api/screenings/"+w.ids[0]+"/vessels", tok, nil)
			if status != 200 {
				t.Fatalf("restored vessel map: %d", status)
			}
		}
		t.Run("same engine", func(t *testing.T) { check(t, newTarget(t, e.URI(t), backupKey)) })
		if e.Name == "sqlite-file" && os.Getenv(testenv.PostgresEnv) != "" {
			t.Run("into postgres", func(t *testing.T) { check(t, newTarget(t, testenv.PostgresURI(t), backupKey)) })
		}
		t.Run("without the key", func(t *testing.T) {
			tg := newTarget(t, e.URI(t), "")
			_, err := tg.restore(t, "file://"+dir+"/"+res.Name)
			if err == nil || !strings.Contains(err.Error(), "storage key") {
				t.Fatalf("restore without the key: %v", err)
			}
			if held, _ := dbcopy.Held(testenv.Ctx(t), tg.dsn); held != "" || len(storedKeys(t, tg.store)) != 0 {
				t.Fatalf("a refused restore wrote: %q", held)
			}
		})
	})
}

// TestRestoreRefusesCorruptBackup: a file altered or missing stops the
// restore before anything is written, naming the file.
func TestRestoreRefusesCorruptBackup(t *testing.T) {
	t.Parallel()
	backupEngines(t, func(t *testing.T, e testenv.Engine) {
		w := newBackupWorld(t, e, 2, 0)
		res, dir := w.takeBackup(t, nil)
		var obj string
		for _, f := range res.Manifest.Files {
			if strings.HasPrefix(f.Path, backup.ObjectsDir) {
				obj = f.Path
			}
		}
		from := "file://" + dir + "/" + res.Name
		path := filepath.Join(dir, res.Name, obj)
		raw, err := os.ReadFile(path)
		testenv.Must(t, err, "read")
		raw[len(raw)/2] ^= 1
		testenv.Must(t, os.WriteFile(path, raw, 0o600), "corrupt")
		testenv.Must(t, os.Remove(filepath.Join(dir, res.Name, backup.DatabaseName)), "remove")

		tg := newTarget(t, e.URI(t), backupKey)
		_, err = tg.restore(t, from)
		if !errors.Is(err, backup.ErrCorrupt) || !strings.Contains(err.Error(), obj+" has the wrong SHA-256") ||
			!strings.Contains(err.Error(), backup.DatabaseName+" is missing") {
			t.Fatalf("corrupt backup: %v", err)
		}
		if held, err := dbcopy.Held(testenv.Ctx(t), tg.dsn); err != nil || held != "" {
			t.Fatalf("the database was written: %q %v", held, err)
		}
		if tg.dsn.Engine == config.EngineSQLite {
			if _, err := os.Stat(tg.dsn.Path); !os.IsNotExist(err) {
				t.Fatalf("the SQLite file was created: %v", err)
			}
		}
		if keys := storedKeys(t, tg.store); len(keys) != 0 {
			t.Fatalf("objects were written: %v", keys)
		}
	})
}

// TestRestoreRefusesTamperedLaterChunk: an encrypted object altered in a
// later chunk before the backup was taken has a checksum that matches the
// manifest; the restore still opens every chunk under the storage key and
// refuses, naming the object, before anything is written. The server
// itself answers 503 for it, not a 200 with a cut body.
func TestRestoreRefusesTamperedLaterChunk(t *testing.T) {
	t.Parallel()
	backupEngines(t, func(t *testing.T, e testenv.Engine) {
		w := newBackupWorld(t, e, 2, 0)
		var row models.Screening
		testenv.Must(t, w.s.App.DB.WithContext(testenv.Ctx(t)).Where("id = ?", w.ids[1]).Take(&row).Error, "row")
		path := filepath.Join(w.s.App.Blobs.Dir(), filepath.FromSlash(row.ImageKey))
		raw, err := os.ReadFile(path)
		testenv.Must(t, err, "read")
		if len(raw) < (64<<10)+1000 {
			t.Fatalf("the photograph (%d bytes) is too small for a later chunk", len(raw))
		}
		raw[len(raw)-100] ^= 1 // in the last chunk
		testenv.Must(t, os.WriteFile(path, raw, 0o600), "tamper")
		w.s.Do(t, "GET", "/api/screenings/"+w.ids[1]+"/image", nil, w.patient.Token).Expect(t, http.StatusServiceUnavailable, "UNAVAILABLE")

		res, dir := w.takeBackup(t, nil)
		tg := newTarget(t, e.URI(t), backupKey)
		_, err = tg.restore(t, "file://"+dir+"/"+res.Name)
		if !errors.Is(err, backup.ErrCorrupt) || !strings.Contains(err.Error(), backup.ObjectsDir+row.ImageKey+" does not open under the storage key") ||
			!strings.Contains(err.Error(), "fails authentication") {
			t.Fatalf("tampered backup: %v", err)
		}
		if held, err := dbcopy.Held(testenv.Ctx(t), tg.dsn); err != nil || held != "" {
			t.Fatalf("the database was written: %q %v", held, err)
		}
		if keys := storedKeys(t, tg.store); len(keys) != 0 {
			t.Fatalf("objects were written: %v", keys)
		}
	})
}

// TestRestoreRefusesNonEmptyTarget: a database holding AURA rows, or a store
// holding an object, is refused, and left as it was.
func TestRestoreRefusesNonEmptyTarget(t *testing.T) {
	t.Parallel()
	backupEngines(t, func(t *testing.T, e testenv.Engine) {
		w := newBackupWorld(t, e, 1, 0)
		res, dir := w.takeBackup(t, nil)
		from := "file://" + dir + "/" + res.Name

		// The live database itself.
		tg := newTarget(t, w.uri, backupKey)
		_, err := tg.restore(t, from)
		if !errors.Is(err, backup.ErrNotEmpty) || !strings.Contains(err.Error(), "users") {
			t.Fatalf("non-empty database: %v", err)
		}
		// An empty database, a store with one object.
		tg = newTarget(t, e.URI(t), backupKey)
		_, err = tg.store.Put(testenv.Ctx(t), "stray.txt", strings.NewReader("x"), "")
		testenv.Must(t, err, "put")
		_, err = tg.restore(t, from)
		if !errors.Is(err, backup.ErrNotEmpty) || !strings.Contains(err.Error(), "stray.txt") {
			t.Fatalf("non-empty store: %v", err)
		}
		if held, _ := dbcopy.Held(testenv.Ctx(t), tg.dsn); held != "" {
			t.Fatalf("the database was written: %q", held)
		}
	})
}

// TestBackupRetention: with keep 3, the three newest complete backups stay;
// older ones, and an incomplete one older than them, go; an incomplete one
// newer than the oldest kept (maybe being written) stays.
func TestBackupRetention(t *testing.T) {
	t.Parallel()
	e := testenv.Engines()[1] // sqlite-file: retention is the location's business
	w := newBackupWorld(t, e, 1, 0)
	dir := t.TempDir()
	loc := "file://" + dir
	base := time.Date(2030, 1, 1, 2, 0, 0, 0, time.UTC)
	var names []string
	for i := range 5 {
		at := base.Add(time.Duration(i) * 24 * time.Hour)
		res, err := backup.Run(testenv.Ctx(t), backup.Options{DB: w.s.App.Cfg.Database.DSN, Store: w.s.App.Blobs, To: loc,
			Now: func() time.Time { return at }})
		testenv.Must(t, err, "backup %d", i)
		names = append(names, res.Name)
	}
	// Incomplete: one before everything, one between the 4th and 5th.
	for _, at := range []time.Time{base.Add(-time.Hour), base.Add(3*24*time.Hour + time.Hour)} {
		d := filepath.Join(dir, at.Format(backup.NameLayout))
		testenv.Must(t, os.MkdirAll(d, 0o750), "mkdir")
		testenv.Must(t, os.WriteFile(filepath.Join(d, backup.DatabaseName), []byte("half"), 0o600), "write")
	}
	deleted, err := backup.Prune(testenv.Ctx(t), loc, 3)
	testenv.Must(t, err, "prune")
	if len(deleted) != 3 {
		t.Fatalf("deleted %v", deleted)
	}
	entries, err := backup.List(testenv.Ctx(t), loc)
	testenv.Must(t, err, "list")
	var got []string
	for _, en := range entries {
		got = append(got, fmt.Sprintf("%s:%v", en.Name, en.Complete))
	}
	wantList := []string{names[2] + ":true", names[3] + ":true", base.Add(3*24*time.Hour+time.Hour).Format(backup.NameLayout) + ":false", names[4] + ":true"}
	if strings.Join(got, " ") != strings.Join(wantList, " ") {
		t.Fatalf("kept %v, want %v", got, wantList)
	}
}

// TestBackupDuringWrites: uploads keep arriving while a backup runs (also
// between its snapshot and the copy of the objects); the restored set is
// consistent: every screening row has its image (and an analysed one its
// maps), and the rows are those of the snapshot.
func TestBackupDuringWrites(t *testing.T) {
	t.Parallel()
	backupEngines(t, func(t *testing.T, e testenv.Engine) {
		w := newBackupWorld(t, e, 2, 1)
		jpg, _ := fundus(t)
		var stop atomic.Bool
		var wg sync.WaitGroup
		var uploaded atomic.Int64
		ctx := testenv.Ctx(t)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					ct, body := form{image: jpg, fields: map[string]string{"eye": "right"}}.body()
					req, _ := http.NewRequestWithContext(ctx, "POST", w.s.URL+"/api/screenings", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+w.patient.Token)
					req.Header.Set("Content-Type", ct)
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode == http.StatusAccepted {
						uploaded.Add(1)
					}
				}
			}()
			wg.Add(1)
			go func() { // the analysis writes maps, then its row
				defer wg.Done()
				for !stop.Load() {
					if ran, _ := w.s.App.Analysis.RunOne(ctx); !ran {
						time.Sleep(10 * time.Millisecond)
					}
				}
			}()
		}
		for deadline := time.Now().Add(time.Minute); uploaded.Load() < 2 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		before := uploaded.Load()
		res, dir := w.takeBackup(t, func(o *backup.Options) {
			o.AfterSnapshot = func() {
				n := uploaded.Load()
				for uploaded.Load() < n+2 && !stop.Load() {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
		time.Sleep(200 * time.Millisecond)
		stop.Store(true)
		wg.Wait()
		t.Logf("uploads: %d before the backup, %d in all; backup holds %d screenings", before, uploaded.Load(), res.Manifest.Tables["screenings"])

		tg := newTarget(t, e.URI(t), backupKey)
		_, err := tg.restore(t, "file://"+dir)
		testenv.Must(t, err, "restore")
		db := openRaw(t, tg.uri)
		defer closeRaw(db)
		var rows []models.Screening
		testenv.Must(t, db.Find(&rows).Error, "screenings")
		keys := storedKeys(t, tg.store)
		if int64(len(rows)) != res.Manifest.Tables["screenings"] || len(rows) <= 2 {
			t.Fatalf("restored %d screenings, manifest %d", len(rows), res.Manifest.Tables["screenings"])
		}
		for _, sc := range rows {
			if !keys[sc.ImageKey] {
				t.Errorf("screening %s: image %s missing from the backup", sc.ID, sc.ImageKey)
			}
		}
		var maps []string
		testenv.Must(t, db.Raw("SELECT vessel_key FROM screenings WHERE vessel_key IS NOT NULL").Scan(&maps).Error, "analyses")
		for _, k := range maps {
			if !keys[k] {
				t.Errorf("vessel map %s missing from the backup", k)
			}
		}
		if res.Manifest.Tables["screenings"] >= uploaded.Load()+2 {
			t.Fatalf("the backup holds more screenings than were uploaded")
		}
	})
}

// TestBackupRefusesMemory: an in-memory database is refused, by the command
// and by the setting.
func TestBackupRefusesMemory(t *testing.T) {
	t.Parallel()
	s := backupServer(t, "sqlite:///:memory:", nil)
	_, err := backup.Run(testenv.Ctx(t), backup.Options{DB: s.App.Cfg.Database.DSN, Store: s.App.Blobs, To: "file://" + t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "in memory") {
		t.Fatalf("in-memory backup: %v", err)
	}
	_, err = config.Load(config.Options{Dir: t.TempDir(), Getenv: func(k string) string {
		return map[string]string{"DATABASE_URI": "sqlite://", "AURA_BACKUP_EVERY": "1h", "AURA_BACKUP_URI": "file:///tmp/b"}[k]
	}})
	if err == nil || !strings.Contains(err.Error(), "backup.every") {
		t.Fatalf("config: %v", err)
	}
}

// TestScheduledBackupOneInstancePerPeriod: two servers on one database with
// backup.every set: of runs at the same moment exactly one takes the
// backup, none does again within the period, one does in the next; old
// backups beyond backup.keep go; the metrics say when and how big.
func TestScheduledBackupOneInstancePerPeriod(t *testing.T) {
	t.Parallel()
	backupEngines(t, func(t *testing.T, e testenv.Engine) {
		uri := e.URI(t)
		loc := "file://" + t.TempDir()
		store := t.TempDir()
		env := map[string]string{"AURA_BACKUP_EVERY": "1h", "AURA_BACKUP_URI": loc, "AURA_BACKUP_KEEP": "2",
			"AURA_STORAGE_URI": "file://" + store, "AURA_METRICS_ADDR": "127.0.0.1:0"}
		var servers []*testenv.Server
		for range 2 {
			servers = append(servers, backupServer(t, uri, env))
		}
		adm := makeAdmin(t, servers[0], "admin@backup.example")
		createClinic(t, servers[0], adm, "Phòng khám")
		p := signUp(t, servers[1], "binh@patient.example")
		jpg, _ := fundus(t)
		upload(t, servers[1], p.Token, form{image: jpg, fields: map[string]string{"eye": "left"}}, nil).Expect(t, http.StatusAccepted, "")

		now := time.Now().UTC().Add(time.Hour) // past any lease the servers' own schedulers took
		for _, s := range servers {
			s.App.Backups.Clock = func() time.Time { return now }
			s.App.Backups.TempDir = t.TempDir()
		}
		period := func(want int) {
			t.Helper()
			ran := make([]bool, 2)
			errs := testenv.Race(2, func(i int) error {
				_, r, err := servers[i].App.Backups.RunOnce(testenv.Ctx(t))
				ran[i] = r
				return err
			})
			n := 0
			for i := range 2 {
				testenv.Must(t, errs[i], "run %d", i)
				if ran[i] {
					n++
				}
			}
			if n != want {
				t.Fatalf("at %s: %d backups, want %d", now, n, want)
			}
		}
		period(1)
		now = now.Add(30 * time.Minute)
		period(0)
		for range 3 {
			now = now.Add(31 * time.Minute)
			period(1)
			now = now.Add(30 * time.Minute)
		}
		entries, err := backup.List(testenv.Ctx(t), loc)
		testenv.Must(t, err, "list")
		if len(entries) != 2 || !entries[0].Complete || !entries[1].Complete {
			t.Fatalf("kept %+v, want the 2 newest", entries)
		}
		var size float64
		for _, s := range servers {
			for _, smp := range find(scrape(t, s), "aura_backup_last_size_bytes", nil) {
				size += smp.value
			}
		}
		if size <= 0 {
			t.Fatalf("no backup size in the metrics")
		}
	})
}

// TestMeasureBackup prints the time and size of a backup and a restore of
// a database with AURA_TEST_BACKUP_MEASURE screenings (e.g. 1000) and their
// images, on every engine configured. Off by default.
func TestMeasureBackup(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("AURA_TEST_BACKUP_MEASURE"))
	if n <= 0 {
		t.Skip("set AURA_TEST_BACKUP_MEASURE=1000 to measure")
	}
	backupEngines(t, func(t *testing.T, e testenv.Engine) {
		start := time.Now()
		w := newBackupWorld(t, e, n, 0)
		t.Logf("%s: %d uploads in %s", e.Name, n, time.Since(start).Round(time.Millisecond))
		res, _ := w.takeBackup(t, nil)
		objects, bytes := res.Manifest.Objects()
		dbSize := res.Manifest.Files[0].Size
		tg := newTarget(t, e.URI(t), backupKey)
		start = time.Now()
		_, err := tg.restore(t, strings.TrimSuffix(res.URI, "/"+res.Name))
		testenv.Must(t, err, "restore")
		took := time.Since(start)
		fmt.Printf("MEASURE %s: %d screenings, %d rows, %d objects (%.1f MiB), database file %.1f MiB: backup %s, restore %s\n",
			e.Name, n, res.Manifest.Rows(), objects, float64(bytes)/(1<<20), float64(dbSize)/(1<<20),
			res.Duration.Round(time.Millisecond), took.Round(time.Millisecond))
	})
}
