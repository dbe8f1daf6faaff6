// Command bench is AURA's load benchmark. By default (-scenario yardstick) it
// builds AURA and the yardstick (bench/yardstick: the least a Go service must
// do to answer GET /api/auth/me and GET /api/health, on Gin with a plain
// driver), starts both as real processes on the same engine and drives them
// alternately with wrk -t1 -c32 for -rounds rounds: AURA's speed is the median
// of the rounds' ratios. The other scenarios (issue 5) use a second, wider
// calibration server (bench/calibrate: health, me, refresh, login and register
// on AURA's own schema) and a closed-loop Go load generator, for latency
// percentiles, login and register efficiency, memory and scale.
//
//	go run ./bench                                  # /me and /health vs the yardstick, SQLite only
//	go run ./bench -pg postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
//	go run ./bench -scenario full -pg ...           # plus every target of issue 5
//
// Output: a Markdown report on standard output and a JSON file (default
// bench/results/<time>.json, which git ignores). See docs/performance.md.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	duration, warmup time.Duration
	concurrency      int
	users, bigUsers  int
	engines          []string
	endpoints        []string
	servers          []string
	pg               string
	out              string
	scenario         string
	profile          bool
	keep             bool
	memoryDuration   time.Duration
	settle           time.Duration
	auraEnv          []string
	rounds           int
	auraBin          string
}

// Result is one run: one server, one engine, one endpoint, one concurrency.
type Result struct {
	Scenario    string         `json:"scenario"`
	Engine      string         `json:"engine"`
	Users       int            `json:"users"`
	Server      string         `json:"server"`
	Endpoint    string         `json:"endpoint"`
	Concurrency int            `json:"concurrency"`
	Seconds     float64        `json:"seconds"`
	Requests    int64          `json:"requests"`
	RPS         float64        `json:"rps"`
	P50ms       float64        `json:"p50_ms"`
	P90ms       float64        `json:"p90_ms"`
	P99ms       float64        `json:"p99_ms"`
	MaxMs       float64        `json:"max_ms"`
	Errors      map[string]int `json:"errors"`
	ErrorCount  int            `json:"error_count"`
	ErrorSample []string       `json:"error_samples,omitempty"`
	Locked      int            `json:"database_locked"`
	PeakRSSMiB  float64        `json:"peak_rss_mib"`
	// EndRSSMiB and SettledRSSMiB (memory scenario): VmRSS right after the
	// run and after -settle of idleness.
	EndRSSMiB     float64 `json:"end_rss_mib,omitempty"`
	SettledRSSMiB float64 `json:"settled_rss_mib,omitempty"`
	CPUusPerReq   float64 `json:"server_cpu_us_per_req"`
	Profile       string  `json:"cpu_profile,omitempty"`
}

// Report is the JSON file.
type Report struct {
	Started   time.Time `json:"started"`
	Machine   Machine   `json:"machine"`
	Options   any       `json:"options"`
	Results   []Result  `json:"results"`
	Targets   []Target  `json:"targets"`
	Skipped   []string  `json:"skipped,omitempty"`
	SeedTimes []string  `json:"seed_times"`
	Ceiling   *Ceiling  `json:"argon2_ceiling,omitempty"`
	// Yardstick is the yardstick scenario: every wrk run and the ratios.
	Yardstick       []YardstickRun   `json:"yardstick_runs,omitempty"`
	YardstickRatios []YardstickRatio `json:"yardstick_ratios,omitempty"`
}

// Machine describes where the figures were taken.
type Machine struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go"`
	CPUModel  string `json:"cpu_model"`
	MemTotal  string `json:"mem_total"`
	Postgres  string `json:"postgres,omitempty"`
}

// run is one planned load run.
type run struct {
	scenario    string
	server      string
	endpoint    string
	concurrency int
	// fresh: the server is restarted before the run, so the RSS it shows is
	// this run's alone (memory scenario).
	fresh    bool
	duration time.Duration // 0: -duration
}

// group is the runs that share one seeded database.
type group struct {
	engine string
	users  int
	runs   []run
}

func main() {
	var o options
	var engines, endpoints, servers string
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per run")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unrecorded warm-up before each run")
	flag.IntVar(&o.concurrency, "concurrency", 16, "connections (closed-loop workers) of the main table")
	flag.IntVar(&o.users, "users", 10000, "seeded users")
	flag.IntVar(&o.bigUsers, "big-users", 1000000, "seeded users of the scale scenario (compared with -users)")
	flag.StringVar(&engines, "engines", "sqlite,postgres", "engines: sqlite, postgres")
	flag.StringVar(&endpoints, "endpoints", "health,me,refresh,login,register", "endpoints of the main table")
	flag.StringVar(&servers, "servers", "aura,calibrate", "servers to measure: aura, calibrate")
	flag.StringVar(&o.pg, "pg", os.Getenv("AURA_BENCH_PG"), "PostgreSQL admin URI; a database aura_bench_<random> is created and dropped on it (env AURA_BENCH_PG)")
	flag.StringVar(&o.out, "out", "", "JSON result file (default bench/results/<time>.json)")
	flag.StringVar(&o.scenario, "scenario", "yardstick",
		"yardstick | main | efficiency | scale | writers | rss | memory | full (all of them), or a comma-separated list")
	flag.StringVar(&o.auraBin, "aura-bin", "", "measure this AURA binary instead of building the checkout (e.g. an older commit's, for before/after)")
	flag.IntVar(&o.rounds, "rounds", 3, "alternated rounds of the yardstick scenario (the median ratio is reported)")
	flag.BoolVar(&o.profile, "profile", false, "run AURA's pprof variant (bench/profserve) and save a CPU profile per AURA run")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (databases, logs, binaries)")
	var auraEnv string
	flag.StringVar(&auraEnv, "aura-env", "", "extra environment of AURA only, comma-separated KEY=VALUE (e.g. AURA_SERVER_MEMORY_LIMIT_MIB=80)")
	flag.DurationVar(&o.memoryDuration, "memory-duration", 30*time.Second, "logins of the memory scenario")
	flag.DurationVar(&o.settle, "settle", 10*time.Second, "idle time before the memory scenario's settled RSS")
	flag.Parse()
	o.engines, o.endpoints, o.servers = split(engines), split(endpoints), split(servers)
	o.auraEnv = split(auraEnv)
	for _, e := range o.endpoints {
		if drivers[e] == nil {
			fatalf("unknown endpoint %q; accepted: health, me, refresh, login, register", e)
		}
	}
	if err := benchmark(o); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
	os.Exit(1)
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

// plan turns the scenarios into groups of runs per seeded database.
func plan(o options) []group {
	scen := split(o.scenario)
	if slices.Contains(scen, "full") {
		scen = []string{"main", "efficiency", "rss", "writers", "scale", "memory"}
	}
	scen = slices.DeleteFunc(slices.Clone(scen), func(s string) bool { return s == "yardstick" }) // not a group: runYardstick
	var groups []group
	add := func(engine string, users int, r run) {
		for i := range groups {
			if groups[i].engine == engine && groups[i].users == users {
				groups[i].runs = append(groups[i].runs, r)
				return
			}
		}
		groups = append(groups, group{engine: engine, users: users, runs: []run{r}})
	}
	for _, eng := range o.engines {
		for _, sc := range scen {
			for _, srv := range o.servers {
				switch sc {
				case "main":
					for _, ep := range o.endpoints {
						add(eng, o.users, run{scenario: sc, server: srv, endpoint: ep, concurrency: o.concurrency})
					}
				case "efficiency":
					for _, ep := range []string{"login", "register"} {
						add(eng, o.users, run{scenario: sc, server: srv, endpoint: ep, concurrency: 1})
						add(eng, o.users, run{scenario: sc, server: srv, endpoint: ep, concurrency: 8})
					}
				case "rss":
					add(eng, o.users, run{scenario: sc, server: srv, endpoint: "me", concurrency: 256})
				case "memory":
					add(eng, o.users, run{scenario: sc, server: srv, endpoint: "login", concurrency: 8,
						fresh: true, duration: o.memoryDuration})
				case "writers":
					if eng == "sqlite" {
						add(eng, o.users, run{scenario: sc, server: srv, endpoint: "register", concurrency: 64})
					}
				case "scale":
					add(eng, o.users, run{scenario: sc, server: srv, endpoint: "me", concurrency: o.concurrency})
					add(eng, o.bigUsers, run{scenario: sc, server: srv, endpoint: "me", concurrency: o.concurrency})
				default:
					fatalf("unknown scenario %q", sc)
				}
			}
		}
	}
	rank := map[string]int{"health": 0, "me": 1, "refresh": 2, "login": 3, "register": 4}
	for i := range groups {
		// Fresh-process runs first (nothing before them to clean), register
		// last: it adds users. Then by endpoint, concurrency, and AURA right
		// beside the calibration server.
		slices.SortStableFunc(groups[i].runs, func(a, b run) int {
			if a.fresh != b.fresh {
				if a.fresh {
					return -1
				}
				return 1
			}
			if d := rank[a.endpoint] - rank[b.endpoint]; d != 0 {
				return d
			}
			return a.concurrency - b.concurrency
		})
	}
	return groups
}

func benchmark(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := moduleRoot()
	tmp, err := os.MkdirTemp("", "aura-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	rep := &Report{Started: time.Now().UTC(), Machine: machine(o.pg), Options: map[string]any{
		"duration": o.duration.String(), "warmup": o.warmup.String(), "concurrency": o.concurrency,
		"users": o.users, "big_users": o.bigUsers, "engines": o.engines, "endpoints": o.endpoints,
		"servers": o.servers, "scenario": o.scenario, "profile": o.profile, "memory_duration": o.memoryDuration.String(),
		"settle": o.settle.String(), "aura_env": o.auraEnv, "rounds": o.rounds, "aura_bin": o.auraBin, "args": os.Args[1:]}}

	logf("building aura and the calibration server in %s", tmp)
	auraBin, calibBin, profBin, ysBin, err := buildBinaries(tmp, o.profile)
	if err != nil {
		return err
	}
	if o.auraBin != "" {
		if auraBin, err = filepath.Abs(o.auraBin); err != nil {
			return err
		}
	}
	secretBytes := make([]byte, 32)
	_, _ = rand.Read(secretBytes)
	secret := hex.EncodeToString(secretBytes)
	tag := hex.EncodeToString(secretBytes[:4])

	if sc := split(o.scenario); slices.Contains(sc, "yardstick") || slices.Contains(sc, "full") {
		for _, eng := range o.engines {
			if ctx.Err() != nil {
				break
			}
			if eng == "postgres" && o.pg == "" {
				rep.Skipped = append(rep.Skipped, "postgres: skipped, no -pg URI (or AURA_BENCH_PG) given")
				logf("postgres: skipped, no -pg URI (or AURA_BENCH_PG) given")
				continue
			}
			dir := filepath.Join(tmp, "yardstick-"+eng)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			runs, err := runYardstick(ctx, o, eng, dir, secret, auraBin, ysBin)
			rep.Yardstick = append(rep.Yardstick, runs...)
			if err != nil {
				return err
			}
		}
		rep.YardstickRatios = yardstickRatios(rep.Yardstick)
	}
	for gi, g := range plan(o) {
		if ctx.Err() != nil {
			break
		}
		if g.engine == "postgres" && o.pg == "" {
			note := "postgres: skipped, no -pg URI (or AURA_BENCH_PG) given"
			if !slices.Contains(rep.Skipped, note) {
				rep.Skipped = append(rep.Skipped, note)
				logf("%s", note)
			}
			continue
		}
		dir := filepath.Join(tmp, fmt.Sprintf("g%d-%s-%d", gi, g.engine, g.users))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		results, seedTime, err := runGroup(ctx, o, g, dir, secret, tag, auraBin, calibBin, profBin)
		rep.Results = append(rep.Results, results...)
		if seedTime != "" {
			rep.SeedTimes = append(rep.SeedTimes, seedTime)
		}
		if err != nil {
			return err
		}
	}
	if sc := o.scenario; strings.Contains(sc, "efficiency") || strings.Contains(sc, "full") {
		logf("argon2id ceiling: hashing in-process with 1 and %d goroutines", runtime.NumCPU())
		c := hashCeiling(o.duration)
		rep.Ceiling = &c
	}
	rep.Targets = append(yardstickTargets(rep.YardstickRatios), evaluate(rep.Results, runtime.NumCPU())...)
	printReport(os.Stdout, rep)

	out := o.out
	if out == "" {
		out = filepath.Join(root, "bench", "results", time.Now().Format("20060102-150405")+".json")
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	logf("wrote %s", out)
	return nil
}

// runGroup seeds one database and runs the group's runs on it.
func runGroup(ctx context.Context, o options, g group, dir, secret, tag, auraBin, calibBin, profBin string) ([]Result, string, error) {
	var db *database
	var err error
	if g.engine == "postgres" {
		if db, err = newPostgres(ctx, o.pg); err != nil {
			return nil, "", err
		}
	} else {
		db = newSQLite(dir)
	}
	defer db.drop()
	env := func(addr string) []string { return serverEnv(db.uri, secret, addr) }
	if err := runOnce(dir, auraBin, env("127.0.0.1:0"), "migrate"); err != nil {
		return nil, "", err
	}
	t0 := time.Now()
	logf("%s: seeding %d users", g.engine, g.users)
	if err := db.seed(ctx, g.users); err != nil {
		return nil, "", fmt.Errorf("seed %s: %w", g.engine, err)
	}
	seedTime := fmt.Sprintf("%s: %d users seeded in %s", g.engine, g.users, time.Since(t0).Round(100*time.Millisecond))
	logf("%s", seedTime)

	procs := map[string]*proc{}
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	var pprofAddr string
	start := func(srv string) error {
		bin := calibBin
		penv := env
		if srv == "aura" {
			bin = auraBin
			penv = func(addr string) []string { return append(env(addr), o.auraEnv...) }
			if o.profile {
				bin = profBin
				pprofAddr, _ = freeAddr()
				penv = func(addr string) []string {
					return append(env(addr), append(o.auraEnv, "AURA_BENCH_PPROF_ADDR="+pprofAddr)...)
				}
			}
		}
		if old := procs[srv]; old != nil {
			old.stop()
			delete(procs, srv)
		}
		p, err := startProc(srv, dir, bin, penv)
		if err != nil {
			return err
		}
		procs[srv] = p
		return nil
	}
	for _, srv := range o.servers {
		if err := start(srv); err != nil {
			return nil, seedTime, err
		}
	}
	restarted := map[string]bool{} // a fresh process not yet used
	for _, srv := range o.servers {
		restarted[srv] = true
	}

	var results []Result
	for _, r := range g.runs {
		if ctx.Err() != nil {
			break
		}
		if r.fresh && !restarted[r.server] {
			if err := start(r.server); err != nil {
				return results, seedTime, err
			}
		}
		restarted[r.server] = false
		p := procs[r.server]
		dur := o.duration
		if r.duration > 0 {
			dur = r.duration
		}
		steps, err := drivers[r.endpoint](runEnv{base: p.url, conc: r.concurrency, users: g.users,
			tag:  tag + r.server[:1] + fmt.Sprint(r.concurrency) + r.scenario[:2],
			mint: func(n int) ([]session, error) { return db.mintSessions(ctx, n, g.users, secret) }})
		if err != nil {
			return results, seedTime, fmt.Errorf("%s %s %s setup: %w", g.engine, r.server, r.endpoint, err)
		}
		waitIdle(ctx)
		lockedBefore := p.logCount("database is locked")
		var prof chan string
		if pprofAddr != "" && r.server == "aura" {
			prof = make(chan string, 1)
			go func() {
				time.Sleep(o.warmup)
				prof <- captureProfile(pprofAddr, dur, filepath.Join(filepath.Dir(o.outDir()),
					fmt.Sprintf("cpu-%s-%s-%s-c%d-u%d.pprof", g.engine, r.scenario, r.endpoint, r.concurrency, g.users)))
			}()
		}
		w := watchRSS(p.pid())
		cpu0 := cpuTicks(p.pid())
		m := drive(steps, o.warmup, dur)
		cpu1 := cpuTicks(p.pid())
		endRSS := procStatus(p.pid(), "VmRSS")
		rss := w.stop()
		var settledRSS int64
		if r.fresh {
			time.Sleep(o.settle)
			settledRSS = procStatus(p.pid(), "VmRSS")
		}
		res := Result{Scenario: r.scenario, Engine: g.engine, Users: g.users, Server: r.server, Endpoint: r.endpoint,
			Concurrency: r.concurrency, Seconds: m.elapsed.Seconds(), Requests: m.requests,
			RPS: float64(m.requests) / m.elapsed.Seconds(), P50ms: percentile(m.latencies, 50),
			P90ms: percentile(m.latencies, 90), P99ms: percentile(m.latencies, 99), MaxMs: percentile(m.latencies, 100),
			Errors: m.errors, ErrorSample: m.samples, Locked: m.locked + p.logCount("database is locked") - lockedBefore,
			PeakRSSMiB: float64(rss) / (1 << 20)}
		if r.fresh {
			res.EndRSSMiB, res.SettledRSSMiB = float64(endRSS)/(1<<20), float64(settledRSS)/(1<<20)
		}
		for _, v := range m.errors {
			res.ErrorCount += v
		}
		if m.requests > 0 {
			// Includes the warm-up's CPU time spread over the recorded requests'
			// share; both servers are measured the same way.
			res.CPUusPerReq = float64(cpu1-cpu0) * 1e4 / float64(m.requests) * dur.Seconds() / (dur + o.warmup).Seconds()
		}
		if prof != nil {
			res.Profile = <-prof
		}
		logf("%-9s %-8s %-9s %-8s c=%-3d users=%-7d %8.0f rps  p50 %7.2f ms  p99 %7.2f ms  err %s  rss %.1f MiB  cpu %.0f µs/req",
			r.scenario, g.engine, r.server, r.endpoint, r.concurrency, g.users, res.RPS, res.P50ms, res.P99ms,
			errorString(res.Errors), res.PeakRSSMiB, res.CPUusPerReq)
		if r.fresh {
			logf("    rss at the end %.1f MiB, after %s idle %.1f MiB", res.EndRSSMiB, o.settle, res.SettledRSSMiB)
		}
		for _, s := range m.samples {
			logf("    sample error: %s", s)
		}
		results = append(results, res)
	}
	return results, seedTime, nil
}

func (o options) outDir() string {
	if o.out != "" {
		return o.out
	}
	return filepath.Join(moduleRoot(), "bench", "results", "x")
}

func machine(pg string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		l, _, _ := strings.Cut(string(b), "\n")
		m.MemTotal = strings.Join(strings.Fields(strings.TrimPrefix(l, "MemTotal:")), " ")
	}
	if pg != "" {
		m.Postgres = postgresVersion(pg)
	}
	return m
}
