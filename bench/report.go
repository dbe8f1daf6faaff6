package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
)

// Target is one goal of issue 5 and whether this run met it.
type Target struct {
	Name   string `json:"name"`
	Engine string `json:"engine"`
	Goal   string `json:"goal"`
	Value  string `json:"value"`
	Met    bool   `json:"met"`
}

func find(rs []Result, scenario, engine, server, endpoint string, conc, users int) *Result {
	for i := range rs {
		r := &rs[i]
		if r.Scenario == scenario && r.Engine == engine && r.Server == server && r.Endpoint == endpoint &&
			(conc == 0 || r.Concurrency == conc) && (users == 0 || r.Users == users) {
			return r
		}
	}
	return nil
}

func engines(rs []Result) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range rs {
		if !seen[r.Engine] {
			seen[r.Engine] = true
			out = append(out, r.Engine)
		}
	}
	return out
}

// evaluate checks every target that the results cover.
func evaluate(rs []Result, cores int) []Target {
	var ts []Target
	for _, eng := range engines(rs) {
		for _, ep := range []string{"me", "health"} {
			a, c := find(rs, "main", eng, "aura", ep, 0, 0), find(rs, "main", eng, "calibrate", ep, 0, 0)
			if a != nil && c != nil && c.RPS > 0 {
				ratio := a.RPS / c.RPS
				ts = append(ts, Target{Name: "GET /api/" + map[string]string{"me": "auth/me", "health": "health"}[ep] +
					" rps vs calibration", Engine: eng, Goal: ">= 0.80",
					Value: fmt.Sprintf("%.2f (%.0f / %.0f rps, c=%d)", ratio, a.RPS, c.RPS, a.Concurrency), Met: ratio >= 0.8})
			}
		}
		for _, ep := range []string{"login", "register"} {
			one, eight := find(rs, "efficiency", eng, "aura", ep, 1, 0), find(rs, "efficiency", eng, "aura", ep, 8, 0)
			if one != nil && eight != nil && one.RPS > 0 {
				eff := eight.RPS / (float64(cores) * one.RPS)
				v := fmt.Sprintf("%.2f (%.1f rps at 8 / (%d × %.1f rps at 1))", eff, eight.RPS, cores, one.RPS)
				c1, c8 := find(rs, "efficiency", eng, "calibrate", ep, 1, 0), find(rs, "efficiency", eng, "calibrate", ep, 8, 0)
				if c1 != nil && c8 != nil && c1.RPS > 0 {
					v += fmt.Sprintf("; calibration %.2f", c8.RPS/(float64(cores)*c1.RPS))
				}
				ts = append(ts, Target{Name: ep + " parallel efficiency", Engine: eng, Goal: ">= 0.90", Value: v, Met: eff >= 0.9})
			}
		}
		var small, big *Result
		for i := range rs {
			r := &rs[i]
			if r.Scenario == "scale" && r.Engine == eng && r.Server == "aura" {
				if small == nil || r.Users < small.Users {
					small = r
				}
				if big == nil || r.Users > big.Users {
					big = r
				}
			}
		}
		if small != nil && big != nil && small != big && small.P99ms > 0 {
			q := big.P99ms / small.P99ms
			ts = append(ts, Target{Name: "GET /api/auth/me p99, many users vs few", Engine: eng, Goal: "<= 1.25",
				Value: fmt.Sprintf("%.2f (%.2f ms at %d users / %.2f ms at %d)", q, big.P99ms, big.Users, small.P99ms, small.Users),
				Met:   q <= 1.25})
		}
		if w := find(rs, "writers", eng, "aura", "register", 64, 0); w != nil {
			ts = append(ts, Target{Name: "\"database is locked\" with 64 concurrent writers", Engine: eng, Goal: "0",
				Value: fmt.Sprintf("%d (errors %s, %d registrations)", w.Locked, errorString(w.Errors), w.Requests),
				Met:   w.Locked == 0 && w.ErrorCount == 0})
		}
		if r := find(rs, "rss", eng, "aura", "me", 256, 0); r != nil {
			ts = append(ts, Target{Name: "server peak RSS, /me at 256 connections", Engine: eng, Goal: "<= 100 MiB",
				Value: fmt.Sprintf("%.1f MiB (calibration %s)", r.PeakRSSMiB, rssOf(find(rs, "rss", eng, "calibrate", "me", 256, 0))),
				Met:   r.PeakRSSMiB <= 100})
		}
		if r := find(rs, "memory", eng, "aura", "login", 8, 0); r != nil {
			// Issue 25: what an operator sees once the burst is over (after
			// -settle of idleness), with the end and the peak reported.
			ts = append(ts, Target{Name: fmt.Sprintf("server RSS after %.0f s of logins at 8 connections, then idle", r.Seconds), Engine: eng,
				Goal: "<= 100 MiB", Value: fmt.Sprintf("%.1f MiB settled; %.1f MiB at the end, peak %.1f MiB (calibration %s)",
					r.SettledRSSMiB, r.EndRSSMiB, r.PeakRSSMiB, rssOf(find(rs, "memory", eng, "calibrate", "login", 8, 0))),
				Met: r.SettledRSSMiB <= 100})
		}
		errs, runs := 0, 0
		for _, r := range rs {
			if r.Engine == eng && r.Server == "aura" {
				errs += r.ErrorCount
				runs++
			}
		}
		if runs > 0 {
			ts = append(ts, Target{Name: "errors over every AURA run", Engine: eng, Goal: "0",
				Value: fmt.Sprintf("%d in %d runs", errs, runs), Met: errs == 0})
		}
	}
	return ts
}

func rssOf(r *Result) string {
	if r == nil {
		return "not run"
	}
	if r.EndRSSMiB > 0 {
		return fmt.Sprintf("%.1f MiB at the end", r.EndRSSMiB)
	}
	return fmt.Sprintf("%.1f MiB", r.PeakRSSMiB)
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func printReport(w io.Writer, rep *Report) {
	m := rep.Machine
	fmt.Fprintf(w, "# AURA load benchmark\n\n%s; %d CPUs (%s), %s RAM, %s", rep.Started.Format(time.RFC3339), m.CPUs, m.CPUModel, m.MemTotal, m.GoVersion)
	if m.Postgres != "" {
		fmt.Fprintf(w, "; %s", m.Postgres)
	}
	fmt.Fprintf(w, "\n\nArguments: `%v`\n\n", rep.Options.(map[string]any)["args"])
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "> %s\n\n", s)
	}
	printYardstick(w, rep.YardstickRatios)
	for _, eng := range engines(rep.Results) {
		fmt.Fprintf(w, "## %s\n\n", eng)
		fmt.Fprintln(w, "| scenario | endpoint | conc | users | AURA rps | calib rps | rps ratio | AURA p50 / p99 ms | calib p50 / p99 ms | p99 ratio | AURA errors | calib errors | AURA RSS MiB | calib RSS MiB | AURA CPU µs/req | calib CPU µs/req |")
		fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|")
		for _, a := range rep.Results {
			if a.Engine != eng || a.Server != "aura" {
				continue
			}
			c := find(rep.Results, a.Scenario, eng, "calibrate", a.Endpoint, a.Concurrency, a.Users)
			cr := Result{}
			cerr := "–"
			if c != nil {
				cr, cerr = *c, errorString(c.Errors)
			}
			fmt.Fprintf(w, "| %s | %s | %d | %d | %.0f | %.0f | %s | %.2f / %.2f | %.2f / %.2f | %s | %s | %s | %.1f | %.1f | %.0f | %.0f |\n",
				a.Scenario, a.Endpoint, a.Concurrency, a.Users, a.RPS, cr.RPS, ratio(a.RPS, cr.RPS), a.P50ms, a.P99ms,
				cr.P50ms, cr.P99ms, ratio(cr.P99ms, a.P99ms), errorString(a.Errors), cerr, a.PeakRSSMiB, cr.PeakRSSMiB,
				a.CPUusPerReq, cr.CPUusPerReq)
		}
		fmt.Fprintln(w)
		header := false
		for _, r := range rep.Results {
			if r.Engine != eng || r.EndRSSMiB == 0 {
				continue
			}
			if !header {
				fmt.Fprintln(w, "Fresh process per run (memory scenario); RSS from /proc/<pid>/status:")
				fmt.Fprintln(w)
				fmt.Fprintln(w, "| server | endpoint | conc | seconds | rps | errors | peak RSS MiB | RSS at the end MiB | RSS settled MiB |")
				fmt.Fprintln(w, "|---|---|---:|---:|---:|---|---:|---:|---:|")
				header = true
			}
			fmt.Fprintf(w, "| %s | %s | %d | %.0f | %.1f | %s | %.1f | %.1f | %.1f |\n", r.Server, r.Endpoint, r.Concurrency,
				r.Seconds, r.RPS, errorString(r.Errors), r.PeakRSSMiB, r.EndRSSMiB, r.SettledRSSMiB)
		}
		if header {
			fmt.Fprintln(w)
		}
	}
	if len(rep.Results) > 0 {
		fmt.Fprintln(w, "rps ratio = AURA / calibration (higher is better); p99 ratio = calibration p99 / AURA p99 (higher is better).")
	}
	fmt.Fprintln(w)
	if len(rep.Targets) > 0 {
		fmt.Fprintln(w, "## Targets")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| target | engine | goal | measured | met |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for _, t := range rep.Targets {
			met := "**no**"
			if t.Met {
				met = "yes"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", t.Name, t.Engine, t.Goal, t.Value, met)
		}
		fmt.Fprintln(w)
	}
	if c := rep.Ceiling; c != nil {
		fmt.Fprintf(w, "argon2id ceiling of this machine (in-process, no HTTP, no database): %.1f hashes/s on 1 goroutine, "+
			"%.1f on %d: efficiency %.2f, the best login or register can reach here.\n\n", c.OneRate, c.AllRate, c.CPUs, c.Efficiency)
	}
	for _, s := range rep.SeedTimes {
		fmt.Fprintf(w, "- %s\n", s)
	}
}

// captureProfile fetches a CPU profile of d from the pprof variant.
func captureProfile(addr string, d time.Duration, path string) string {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, max(1, int(d.Seconds()))))
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	_ = os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		return "error: " + err.Error()
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		return "error: " + err.Error()
	}
	return path
}

func postgresVersion(uri string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, uri)
	if err != nil {
		return "PostgreSQL unreachable"
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "PostgreSQL ?"
	}
	return "PostgreSQL " + v
}
