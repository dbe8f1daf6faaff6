package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// client is an HTTP client that keeps exactly conc keep-alive connections.
func newClient(conc int) *http.Client {
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conc, MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc,
		DisableCompression: true, IdleConnTimeout: 90 * time.Second,
	}}
}

// call does one request and reads the whole answer.
func call(c *http.Client, method, url, bearer string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("User-Agent", "aura-bench")
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

type session struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
}

func decodeSession(b []byte) (session, error) {
	var env struct {
		Data session `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Data.AccessToken == "" || env.Data.RefreshToken == "" {
		return session{}, fmt.Errorf("no session in %.200s", b)
	}
	return env.Data, nil
}

func loginBody(i int) []byte {
	b, _ := json.Marshal(map[string]string{"email": seedEmail(i), "password": seedPassword})
	return b
}

// loginMany logs in n distinct random seeded users (8 at a time) and returns
// their sessions.
func loginMany(base string, n, users int) ([]session, error) {
	c := newClient(8)
	defer c.CloseIdleConnections()
	idx := rand.Perm(users)
	if n > users {
		return nil, fmt.Errorf("need %d seeded users for %d sessions", n, n)
	}
	out := make([]session, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			st, b, err := call(c, "POST", base+"/api/auth/login", "", loginBody(idx[i]))
			if err == nil && st != 200 {
				err = fmt.Errorf("login %d: %.300s", st, b)
			}
			if err == nil {
				out[i], err = decodeSession(b)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return out, nil
}

// step does one request of a worker: its status, body and transport error.
type step func(c *http.Client) (int, []byte, error)

// runEnv is what a driver needs to prepare a run.
type runEnv struct {
	base  string // server URL
	conc  int
	users int    // seeded users
	tag   string // makes register emails unique
	// mint gives n seeded users live sessions without the server's help.
	mint func(n int) ([]session, error)
}

// driver prepares, for one endpoint on one server, a step per worker.
type driver func(e runEnv) ([]step, error)

var drivers = map[string]driver{
	"health": func(e runEnv) ([]step, error) {
		base := e.base
		steps := make([]step, e.conc)
		for w := range steps {
			steps[w] = func(c *http.Client) (int, []byte, error) { return call(c, "GET", base+"/api/health", "", nil) }
		}
		return steps, nil
	},
	"me": func(e runEnv) ([]step, error) {
		base := e.base
		sess, err := e.mint(min(e.conc, 256, e.users))
		if err != nil {
			return nil, err
		}
		steps := make([]step, e.conc)
		for w := range steps {
			s := sess[w%len(sess)]
			steps[w] = func(c *http.Client) (int, []byte, error) {
				return call(c, "GET", base+"/api/auth/me", s.AccessToken, nil)
			}
		}
		return steps, nil
	},
	"refresh": func(e runEnv) ([]step, error) {
		base, users := e.base, e.users
		sess, err := e.mint(e.conc)
		if err != nil {
			return nil, err
		}
		steps := make([]step, e.conc)
		for w := range steps {
			tok := sess[w].RefreshToken // this worker's own rotation chain
			steps[w] = func(c *http.Client) (int, []byte, error) {
				body, _ := json.Marshal(map[string]string{"refreshToken": tok})
				st, b, err := call(c, "POST", base+"/api/auth/refresh", "", body)
				if err == nil && st == 200 {
					if s, derr := decodeRefresh(b); derr == nil {
						tok = s
					}
				} else if fresh, lerr := loginMany(base, 1, users); lerr == nil { // measured: errors must be zero anyway
					tok = fresh[0].RefreshToken // the chain broke: start a new one
				}
				return st, b, err
			}
		}
		return steps, nil
	},
	"login": func(e runEnv) ([]step, error) {
		base, users := e.base, e.users
		steps := make([]step, e.conc)
		for w := range steps {
			steps[w] = func(c *http.Client) (int, []byte, error) {
				return call(c, "POST", base+"/api/auth/login", "", loginBody(rand.IntN(users)))
			}
		}
		return steps, nil
	},
	"register": func(e runEnv) ([]step, error) {
		base, tag := e.base, e.tag
		steps := make([]step, e.conc)
		for w := range steps {
			n := 0
			steps[w] = func(c *http.Client) (int, []byte, error) {
				n++
				body, _ := json.Marshal(map[string]string{
					"email":    fmt.Sprintf("reg-%s-%d-%d@bench.example.com", tag, w, n),
					"password": seedPassword,
				})
				return call(c, "POST", base+"/api/auth/register", "", body)
			}
		}
		return steps, nil
	},
}

func decodeRefresh(b []byte) (string, error) {
	var env struct {
		Data struct {
			RefreshToken string `json:"refreshToken"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Data.RefreshToken == "" {
		return "", errors.New("no refresh token")
	}
	return env.Data.RefreshToken, nil
}

// measurement is what one closed-loop run observed.
type measurement struct {
	requests  int64
	elapsed   time.Duration
	latencies []time.Duration // sorted
	errors    map[string]int
	samples   []string // a few error bodies
	locked    int      // answers mentioning "database is locked"
}

// drive runs every step in its own goroutine, back to back (closed loop),
// for warmup (not recorded) and then dur; requests that complete inside the
// recorded window count. Every latency is kept and sorted,
// so percentiles are exact rather than bucketed.
func drive(steps []step, warmup, dur time.Duration) measurement {
	client := newClient(len(steps))
	defer client.CloseIdleConnections()
	start := time.Now()
	recordFrom, end := start.Add(warmup), start.Add(warmup+dur)
	type local struct {
		lat     []time.Duration
		errs    map[string]int
		samples []string
		locked  int
	}
	locals := make([]local, len(steps))
	var wg sync.WaitGroup
	var stopped atomic.Bool
	for w, st := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := &locals[w]
			l.errs = map[string]int{}
			l.lat = make([]time.Duration, 0, 4096)
			for !stopped.Load() {
				t0 := time.Now()
				if t0.After(end) {
					return
				}
				status, body, err := st(client)
				t1 := time.Now()
				// Throughput is completions inside the window, whenever they
				// started; dropping requests that straddle either edge would
				// undercount slow endpoints (login) badly.
				if t1.Before(recordFrom) || t1.After(end) {
					continue
				}
				l.lat = append(l.lat, t1.Sub(t0))
				switch {
				case err != nil:
					l.errs["transport"]++
					if len(l.samples) < 3 {
						l.samples = append(l.samples, err.Error())
					}
				case status >= 300:
					l.errs[strconv.Itoa(status)]++
					if len(l.samples) < 3 {
						l.samples = append(l.samples, fmt.Sprintf("%d %.200s", status, body))
					}
				}
				if bytes.Contains(body, []byte("database is locked")) {
					l.locked++
				}
			}
		}()
	}
	time.Sleep(time.Until(end))
	stopped.Store(true)
	wg.Wait()
	m := measurement{elapsed: dur, errors: map[string]int{}}
	for _, l := range locals {
		m.latencies = append(m.latencies, l.lat...)
		for k, v := range l.errs {
			m.errors[k] += v
		}
		for _, s := range l.samples {
			if len(m.samples) < 5 {
				m.samples = append(m.samples, s)
			}
		}
		m.locked += l.locked
	}
	slices.Sort(m.latencies)
	m.requests = int64(len(m.latencies))
	return m
}

// percentile is the nearest-rank percentile of sorted latencies, in ms.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i].Microseconds()) / 1000
}

func errorString(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// waitIdle gives the server a moment between runs (WAL checkpoints, GC).
func waitIdle(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(500 * time.Millisecond):
	}
}
