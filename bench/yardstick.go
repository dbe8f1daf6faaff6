package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The yardstick scenario measures AURA against the shared yardstick
// (bench/yardstick, a verbatim copy): GET /api/auth/me and GET /api/health
// with wrk -t1 -c32, the two servers alternated for -rounds rounds on the
// same engine, as the yardstick's own instructions say. Its ratios are the
// ones quoted for AURA's request speed; the main scenario's calibration
// server and closed-loop Go client answer other questions (login, register,
// refresh, latency percentiles).

// YardstickRun is one wrk run of one server.
type YardstickRun struct {
	Engine      string  `json:"engine"`
	Round       int     `json:"round"`
	Server      string  `json:"server"` // aura or yardstick
	Endpoint    string  `json:"endpoint"`
	RPS         float64 `json:"rps"`
	Requests    int64   `json:"requests"`
	Non2xx      int64   `json:"non_2xx"`
	SocketErr   string  `json:"socket_errors,omitempty"`
	CPUusPerReq float64 `json:"server_cpu_us_per_req"`
	PeakRSSMiB  float64 `json:"peak_rss_mib"`
	LoadAvg     string  `json:"loadavg"`
}

// yardstickConns and yardstickThreads are the yardstick's wrk settings.
const yardstickConns, yardstickThreads = 32, 1

func runYardstick(ctx context.Context, o options, engine, dir, secret, auraBin, ysBin string) ([]YardstickRun, error) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		return nil, fmt.Errorf("the yardstick scenario drives both servers with wrk, as the yardstick's method says; install it (apt-get install wrk)")
	}
	var db *database
	if engine == "postgres" {
		if db, err = newPostgres(ctx, o.pg); err != nil {
			return nil, err
		}
	} else {
		db = newSQLite(dir)
	}
	defer db.drop()
	env := func(addr string) []string { return append(serverEnv(db.uri, secret, addr), o.auraEnv...) }
	if err := runOnce(dir, auraBin, env("127.0.0.1:0"), "migrate"); err != nil {
		return nil, err
	}
	users := min(o.users, 1000)
	if err := db.seed(ctx, users); err != nil {
		return nil, fmt.Errorf("seed %s: %w", engine, err)
	}
	aura, err := startProc("aura", dir, auraBin, env)
	if err != nil {
		return nil, err
	}
	defer aura.stop()
	ysArgs := func(addr string) []string {
		if engine == "postgres" {
			uri := db.uri
			if !strings.Contains(uri, "?") {
				uri += "?" // the yardstick appends "&pool_max_conns=10"
			}
			return []string{"-addr", addr, "-pg", uri}
		}
		return []string{"-addr", addr, "-sqlite", filepath.Join(dir, "yardstick.db")}
	}
	ys, err := startProcArgs("yardstick", dir, ysBin, func(string) []string { return runtimeEnv() }, ysArgs)
	if err != nil {
		return nil, err
	}
	defer ys.stop()

	ysToken, err := fetch(ys.url + "/token")
	if err != nil {
		return nil, fmt.Errorf("yardstick token: %w", err)
	}
	sess, err := db.mintSessions(ctx, 1, users, secret)
	if err != nil {
		return nil, err
	}
	servers := []struct {
		name, token string
		p           *proc
	}{{"yardstick", ysToken, ys}, {"aura", sess[0].AccessToken, aura}}

	var out []YardstickRun
	for round := 1; round <= o.rounds && ctx.Err() == nil; round++ {
		for _, ep := range []string{"me", "health"} {
			for _, s := range servers {
				waitIdle(ctx)
				path, token := "/api/health", ""
				if ep == "me" {
					path, token = "/api/auth/me", s.token
				}
				w := watchRSS(s.p.pid())
				cpu0 := cpuTicks(s.p.pid())
				r, err := runWrk(ctx, wrk, s.p.url+path, token, o.duration)
				cpu1 := cpuTicks(s.p.pid())
				rss := w.stop()
				if err != nil {
					return out, err
				}
				r.Engine, r.Round, r.Server, r.Endpoint = engine, round, s.name, ep
				r.PeakRSSMiB = float64(rss) / (1 << 20)
				if r.Requests > 0 {
					r.CPUusPerReq = float64(cpu1-cpu0) * 1e4 / float64(r.Requests)
				}
				r.LoadAvg = loadAvg()
				logf("yardstick %-8s round %d %-9s %-6s %8.0f rps  cpu %.0f µs/req  non-2xx %d  load %s",
					engine, round, s.name, ep, r.RPS, r.CPUusPerReq, r.Non2xx, r.LoadAvg)
				out = append(out, r)
			}
		}
	}
	return out, nil
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors:[^\n]*`)
)

// runWrk runs wrk -t1 -c32 -d<dur> on url (with the bearer token, if any).
func runWrk(ctx context.Context, wrk, url, token string, dur time.Duration) (YardstickRun, error) {
	args := []string{"-t" + strconv.Itoa(yardstickThreads), "-c" + strconv.Itoa(yardstickConns),
		"-d" + strconv.Itoa(int(dur.Seconds())) + "s"}
	if token != "" {
		args = append(args, "-H", "Authorization: Bearer "+token)
	}
	out, err := exec.CommandContext(ctx, wrk, append(args, url)...).CombinedOutput()
	if err != nil {
		return YardstickRun{}, fmt.Errorf("wrk %s: %v\n%s", url, err, out)
	}
	var r YardstickRun
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk %s: no Requests/sec in\n%s", url, out)
	}
	r.RPS, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := wrkRequests.FindSubmatch(out); m != nil {
		r.Requests, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		r.Non2xx, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	if m := wrkSocket.Find(out); m != nil {
		r.SocketErr = string(m)
	}
	return r, nil
}

func fetch(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("%s: %d", url, resp.StatusCode)
	}
	return strings.TrimSpace(string(b)), err
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// YardstickRatio is, for one engine and endpoint, AURA's figures over the
// yardstick's in each round and their median.
type YardstickRatio struct {
	Engine      string    `json:"engine"`
	Endpoint    string    `json:"endpoint"`
	RPSRatios   []float64 `json:"rps_ratios"`
	MedianRPS   float64   `json:"median_rps_ratio"`
	CPURatios   []float64 `json:"cpu_ratios"` // yardstick CPU/req over AURA's (higher is better)
	MedianCPU   float64   `json:"median_cpu_ratio"`
	AuraRPS     []float64 `json:"aura_rps"`
	YardRPS     []float64 `json:"yardstick_rps"`
	AuraCPUus   []float64 `json:"aura_cpu_us_per_req"`
	YardCPUus   []float64 `json:"yardstick_cpu_us_per_req"`
	AuraNon2xx  int64     `json:"aura_non_2xx"`
	YardNon2xx  int64     `json:"yardstick_non_2xx"`
	AuraPeakRSS float64   `json:"aura_peak_rss_mib"`
}

func yardstickRatios(runs []YardstickRun) []YardstickRatio {
	var out []YardstickRatio
	for _, eng := range []string{"sqlite", "postgres"} {
		for _, ep := range []string{"me", "health"} {
			r := YardstickRatio{Engine: eng, Endpoint: ep}
			for _, a := range runs {
				if a.Engine != eng || a.Endpoint != ep || a.Server != "aura" {
					continue
				}
				for _, y := range runs {
					if y.Engine == eng && y.Endpoint == ep && y.Server == "yardstick" && y.Round == a.Round {
						r.RPSRatios = append(r.RPSRatios, round2(a.RPS/y.RPS))
						if a.CPUusPerReq > 0 {
							r.CPURatios = append(r.CPURatios, round2(y.CPUusPerReq/a.CPUusPerReq))
						}
						r.AuraRPS, r.YardRPS = append(r.AuraRPS, a.RPS), append(r.YardRPS, y.RPS)
						r.AuraCPUus, r.YardCPUus = append(r.AuraCPUus, a.CPUusPerReq), append(r.YardCPUus, y.CPUusPerReq)
						r.AuraNon2xx += a.Non2xx
						r.YardNon2xx += y.Non2xx
						r.AuraPeakRSS = max(r.AuraPeakRSS, a.PeakRSSMiB)
					}
				}
			}
			if len(r.RPSRatios) == 0 {
				continue
			}
			r.MedianRPS, r.MedianCPU = median(r.RPSRatios), median(r.CPURatios)
			out = append(out, r)
		}
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return round2((s[len(s)/2-1] + s[len(s)/2]) / 2)
}

func round2(x float64) float64 { return float64(int(x*100+0.5)) / 100 }

func printYardstick(w io.Writer, ratios []YardstickRatio) {
	if len(ratios) == 0 {
		return
	}
	fmt.Fprintf(w, "## Against the yardstick (wrk -t%d -c%d, alternated rounds)\n\n", yardstickThreads, yardstickConns)
	fmt.Fprintln(w, "| engine | endpoint | AURA rps per round | yardstick rps per round | rps ratios | median rps ratio | AURA / yardstick CPU µs/req | median CPU ratio | non-2xx AURA / yardstick |")
	fmt.Fprintln(w, "|---|---|---|---|---|---:|---|---:|---|")
	for _, r := range ratios {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | **%.2f** | %s | %.2f | %d / %d |\n", r.Engine, r.Endpoint,
			joinF(r.AuraRPS, 0), joinF(r.YardRPS, 0), joinF(r.RPSRatios, 2), r.MedianRPS,
			pairs(r.AuraCPUus, r.YardCPUus), r.MedianCPU, r.AuraNon2xx, r.YardNon2xx)
	}
	fmt.Fprintln(w, "\nrps ratio = AURA / yardstick in the same round; CPU ratio = yardstick CPU per request / AURA's (both higher is better; the CPU ratio moves less when other work shares the machine).")
	fmt.Fprintln(w)
}

func joinF(xs []float64, prec int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatFloat(x, 'f', prec, 64)
	}
	return strings.Join(s, ", ")
}

func pairs(a, b []float64) string {
	s := make([]string, len(a))
	for i := range a {
		s[i] = fmt.Sprintf("%.0f/%.0f", a[i], b[i])
	}
	return strings.Join(s, ", ")
}

// yardstickTargets: GET /api/auth/me at 0.8 of the yardstick or better,
// GET /api/health at 0.9, both as the median rps ratio of the rounds.
func yardstickTargets(ratios []YardstickRatio) []Target {
	var out []Target
	for _, r := range ratios {
		goal, name := 0.8, "GET /api/auth/me rps vs the yardstick (median of rounds)"
		if r.Endpoint == "health" {
			goal, name = 0.9, "GET /api/health rps vs the yardstick (median of rounds)"
		}
		out = append(out, Target{Name: name, Engine: r.Engine, Goal: fmt.Sprintf(">= %.2f", goal),
			Value: fmt.Sprintf("%.2f (rounds %s; CPU ratio %.2f)", r.MedianRPS, joinF(r.RPSRatios, 2), r.MedianCPU),
			Met:   r.MedianRPS >= goal && r.AuraNon2xx == 0})
	}
	return out
}
