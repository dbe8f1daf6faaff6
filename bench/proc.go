package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildBinaries compiles AURA (the module root), the calibration server and,
// with profile, the pprof variant of AURA into dir.
func buildBinaries(dir string, profile bool) (aura, calib, prof, yard string, err error) {
	aura, calib, yard = filepath.Join(dir, "aura"), filepath.Join(dir, "calibrate"), filepath.Join(dir, "yardstick")
	builds := [][2]string{{aura, "."}, {calib, "./bench/calibrate"}, {yard, "./bench/yardstick"}}
	if profile {
		prof = filepath.Join(dir, "aura-pprof")
		builds = append(builds, [2]string{prof, "./bench/profserve"})
	}
	for _, b := range builds {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", "", "", fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	return aura, calib, prof, yard, nil
}

// moduleRoot is the directory holding go.mod (the tool is run from the
// repository root or from bench/).
func moduleRoot() string {
	d, _ := os.Getwd()
	for p := d; ; p = filepath.Dir(p) {
		if b, err := os.ReadFile(filepath.Join(p, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module aura")) {
			return p
		}
		if filepath.Dir(p) == p {
			return d
		}
	}
}

// serverEnv is the environment of the contract for AURA as production runs
// it, except mail: production refuses the log driver (it writes links to the
// log) and the benchmark has no relay, so it runs in development mode with
// what production mode would set: JSON logs, a fixed secret, production
// argon2id costs (the defaults). Mode changes nothing else at run time.
func serverEnv(uri, secret, addr string) []string {
	env := []string{
		"DATABASE_URI=" + uri,
		"SECRET_KEY=" + secret,
		"AURA_SERVER_ADDR=" + addr,
		"AURA_ENV=development",
		"AURA_LOG_FORMAT=json",
		"AURA_DATABASE_AUTO_MIGRATE=false",
		"AURA_MAIL_DRIVER=log",
		"FRONTEND_URL=http://localhost:3000",
		// Every registration comes from 127.0.0.1: the per-address sign-up
		// limit (30 an hour) would answer 429 to all but the first 30 and
		// measure the limiter, not a registration.
		"AURA_LIMITS_REGISTER_MAX=1000000000",
	}
	return append(env, runtimeEnv()...)
}

// runtimeEnv is the environment every server gets: PATH, HOME and the Go
// runtime's settings when set.
func runtimeEnv() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, k := range []string{"GOMAXPROCS", "GOMEMLIMIT", "GOGC", "GODEBUG"} {
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// runOnce runs bin with args and env in dir, for `aura migrate`.
func runOnce(dir, bin string, env []string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return nil
}

// proc is a server process under test.
type proc struct {
	name    string
	cmd     *exec.Cmd
	url     string
	logPath string
	log     *os.File
	done    chan error
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startProc starts bin in dir with env (AURA_SERVER_ADDR is added) and waits
// until it answers /api/health. Its stdout and stderr go to a log file.
func startProc(name, dir, bin string, env func(addr string) []string, args ...string) (*proc, error) {
	return startProcArgs(name, dir, bin, env, func(string) []string { return args })
}

// startProcArgs is startProc with arguments that depend on the address (the
// yardstick takes -addr).
func startProcArgs(name, dir, bin string, env func(addr string) []string, argsFor func(addr string) []string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := argsFor(addr)
	p := &proc{name: name, url: "http://" + addr, logPath: filepath.Join(dir, name+".log"), done: make(chan error, 1)}
	if p.log, err = os.Create(p.logPath); err != nil {
		return nil, err
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir, p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = dir, env(addr), p.log, p.log
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.done <- p.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			b, _ := os.ReadFile(p.logPath)
			return nil, fmt.Errorf("%s exited at start: %v\n%s", name, err, tail(b, 2000))
		default:
		}
		resp, err := http.Get(p.url + "/api/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("%s did not answer /api/health within 60s", name)
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits (then SIGKILL).
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.log.Close()
}

// logCount counts lines of the process log containing s.
func (p *proc) logCount(s string) int {
	f, err := os.Open(p.logPath)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			n++
		}
	}
	return n
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// procStatus reads a "Vm...: N kB" field of /proc/pid/status in bytes.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// rssWatch measures a process's peak RSS over one load run: it resets the
// kernel's high-water mark (clear_refs 5) where allowed and also samples VmRSS
// every 20 ms, reporting the larger.
type rssWatch struct {
	pid    int
	cancel context.CancelFunc
	wg     sync.WaitGroup
	peak   int64
}

func watchRSS(pid int) *rssWatch {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	ctx, cancel := context.WithCancel(context.Background())
	w := &rssWatch{pid: pid, cancel: cancel}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if r := procStatus(pid, "VmRSS"); r > w.peak {
				w.peak = r
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *rssWatch) stop() int64 {
	w.cancel()
	w.wg.Wait()
	if h := procStatus(w.pid, "VmHWM"); h > w.peak {
		w.peak = h
	}
	return w.peak
}

// cpuTicks is utime+stime of a process in clock ticks (USER_HZ, 100 on Linux).
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}
