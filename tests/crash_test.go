package tests

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aura/internal/testenv"
)

// proxiedPostgres gives the test a fresh schema reached through a pgProxy.
func proxiedPostgres(t *testing.T) (string, *pgProxy) {
	t.Helper()
	u, err := url.Parse(testenv.PostgresURI(t))
	testenv.Must(t, err, "parse postgres uri")
	p := startPGProxy(t, u.Host)
	u.Host = p.addr
	return u.String(), p
}

// TestPostgresCrashAnswers503 drives authenticated reads and writes through a
// real server while every database connection dies abruptly, new ones are
// refused for a while, then accepted again: each answer is 200 or 503, never
// 500, and the server serves again once the database is back.
func TestPostgresCrashAnswers503(t *testing.T) {
	uri, proxy := proxiedPostgres(t)
	s := testenv.Start(t, testenv.Config(t, uri, map[string]string{
		"AURA_DATABASE_QUERY_TIMEOUT": "3s", "AURA_LIMITS_LOGIN_MAX_FAILURES": "1000000"}))
	reg := register(t, s, "crash@example.com")
	client := testenv.CheckedClient(t, &http.Client{Timeout: 20 * time.Second})

	var (
		mu     sync.Mutex
		counts = map[int]int{}
		bad    []string
		stop   atomic.Bool
		wg     sync.WaitGroup
	)
	call := func(method, path, body string) (int, string) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, s.URL+path, rd)
		req.Header.Set("Authorization", "Bearer "+reg.AccessToken)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				method, path, body, ok := "GET", "/api/auth/me", "", 200
				switch w {
				case 0:
					method, body = "PATCH", fmt.Sprintf(`{"fullName":"Worker %d %d"}`, w, i)
				case 1:
					method, path, body = "POST", "/api/auth/login", `{"email":"crash@example.com","password":"`+goodPassword+`"}`
				case 2:
					method, path, body, ok = "POST", "/api/auth/register", fmt.Sprintf(`{"email":"w%d@example.com","password":"%s"}`, i, goodPassword), 201
				}
				code, text := call(method, path, body)
				mu.Lock()
				counts[code]++
				if code != ok && code != 503 {
					bad = append(bad, fmt.Sprintf("%s %s %d %s", method, path, code, text))
				}
				mu.Unlock()
			}
		}()
	}

	time.Sleep(300 * time.Millisecond)
	cut := 0
	for round := range 3 * cutModes {
		cut += proxy.Cut(round % cutModes)
		time.Sleep(100 * time.Millisecond)
	}
	proxy.Refuse()
	time.Sleep(700 * time.Millisecond)
	proxy.Accept()
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	t.Logf("connections cut: %d; answers: %v", cut, counts)
	if cut == 0 {
		t.Fatal("no connection was cut")
	}
	if counts[503] == 0 {
		t.Fatal("no request saw the database gone")
	}
	for i, b := range bad {
		if i == 10 {
			t.Errorf("... and %d more", len(bad)-10)
			break
		}
		t.Errorf("answer during the crash: %s", b)
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		code, text := call("GET", "/api/auth/me", "")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database is back but /api/auth/me answers %d %s", code, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
