// Package metrics is AURA's Prometheus exposition: the metric families of
// docs/metrics.md on a registry of its own (never the global default), fed
// by the observer hooks of the services, the queue runner and the mail
// sender, and by collectors that read the connection pool, the password
// hasher and the queues when Prometheus scrapes. It imports nothing of the
// project: app wires it to what it observes.
package metrics

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Queue is what waits in one queue (see QueueFunc).
type Queue struct {
	Kind                    string
	Ready, Delayed, Running int64
	// OldestReady is how long the oldest ready item has been due (0: none).
	OldestReady time.Duration
}

// QueueFunc reads the queues now, within ctx.
type QueueFunc func(ctx context.Context) ([]Queue, error)

// Hasher is what the password hasher tells of itself.
type Hasher interface {
	Running() int
	Limit() int
	Waiting() int64
	Refused() uint64
}

// Options say what the collectors read.
type Options struct {
	// Version, Revision and GoVersion label aura_build_info.
	Version, Revision, GoVersion string
	// DB is the connection pool, Engine its engine (the db_name label).
	DB     *sql.DB
	Engine string
	// Queues reads the queue depths at scrape time, bounded by QueueTimeout
	// (default 2 s); Kinds are the queues always reported, at 0 when empty.
	Queues       QueueFunc
	QueueTimeout time.Duration
	Kinds        []string
	// MailKinds are the kinds of mail, whose counters start at 0.
	MailKinds []string
	// Hasher is the password hasher.
	Hasher Hasher
	// Log receives scrape errors.
	Log *slog.Logger
}

// Label values known in advance: their series exist from the start, at 0,
// so rate() and absent-series alerts work before the first event.
var (
	jobOutcomes   = []string{"done", "retry", "given_up", "released", "outage"}
	loginReasons  = []string{"bad_credentials", "disabled", "malformed_hash", "google_token"}
	limits        = []string{"login_account", "login_address", "register_address", "email"}
	queueStates   = []string{"ready", "delayed", "running"}
	knownMethods  = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}
	httpBuckets   = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	jobBuckets    = []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}
	mailOutcomes  = []string{"retry", "dropped"}
	defaultTimout = 2 * time.Second
)

// Metrics holds AURA's metric families and their registry.
type Metrics struct {
	reg          *prometheus.Registry
	log          *slog.Logger
	httpDuration *prometheus.HistogramVec
	inFlight     prometheus.Gauge
	jobDuration  *prometheus.HistogramVec
	mailSent     *prometheus.CounterVec
	mailFailed   *prometheus.CounterVec
	mailExpired  prometheus.Counter
	loginFailed  *prometheus.CounterVec
	rateLimited  *prometheus.CounterVec
	backupLast   prometheus.Gauge
	backupSize   prometheus.Gauge
	backupTook   prometheus.Gauge
	backupFailed prometheus.Counter
}

// New builds the families on a registry of their own.
func New(o Options) *Metrics {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		log: o.Log,
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aura_http_request_duration_seconds",
			Help:    "Time from a request's arrival to its answer, by route (the router's pattern), method and status.",
			Buckets: httpBuckets,
		}, []string{"route", "method", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "aura_http_requests_in_flight",
			Help: "Requests being served now.",
		}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aura_job_duration_seconds",
			Help:    "Time one attempt of a background job ran, by kind (analyze, mail) and outcome (done, retry, given_up, released, outage).",
			Buckets: jobBuckets,
		}, []string{"kind", "outcome"}),
		mailSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aura_mail_sent_total",
			Help: "Messages the mail driver accepted, by mail kind (the log driver's count too).",
		}, []string{"kind"}),
		mailFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aura_mail_failed_total",
			Help: "Failed deliveries, by mail kind and outcome: retry (tried again later) or dropped (refused for good).",
		}, []string{"kind", "outcome"}),
		mailExpired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aura_mail_expired_total",
			Help: "Unsent messages dropped because the link they carry expired first.",
		}),
		loginFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aura_login_failures_total",
			Help: "Failed logins, by reason (bad_credentials, disabled, malformed_hash, google_token).",
		}, []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aura_rate_limited_total",
			Help: "Attempts refused with 429 RATE_LIMITED, by limit (login_account, login_address, register_address, email).",
		}, []string{"limit"}),
		backupLast: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "aura_backup_last_success_timestamp_seconds",
			Help: "When the last scheduled backup this process took completed (Unix time; 0: none yet).",
		}),
		backupSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "aura_backup_last_size_bytes",
			Help: "Bytes of the last scheduled backup this process took (database file and objects).",
		}),
		backupTook: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "aura_backup_last_duration_seconds",
			Help: "How long the last scheduled backup this process took lasted.",
		}),
		backupFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aura_backup_failures_total",
			Help: "Scheduled backups this process started that failed.",
		}),
	}
	reg.MustRegister(m.backupLast, m.backupSize, m.backupTook, m.backupFailed)
	reg.MustRegister(m.httpDuration, m.inFlight, m.jobDuration, m.mailSent, m.mailFailed, m.mailExpired,
		m.loginFailed, m.rateLimited,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "aura_build_info",
			Help:        "Always 1; the labels say what runs.",
			ConstLabels: prometheus.Labels{"version": o.Version, "revision": o.Revision, "goversion": o.GoVersion},
		}, func() float64 { return 1 }),
	)
	for _, r := range loginReasons {
		m.loginFailed.WithLabelValues(r)
	}
	for _, l := range limits {
		m.rateLimited.WithLabelValues(l)
	}
	for _, k := range o.Kinds {
		for _, out := range jobOutcomes {
			m.jobDuration.WithLabelValues(k, out)
		}
	}
	for _, k := range o.MailKinds {
		m.mailSent.WithLabelValues(k)
		for _, out := range mailOutcomes {
			m.mailFailed.WithLabelValues(k, out)
		}
	}
	if o.DB != nil {
		reg.MustRegister(collectors.NewDBStatsCollector(o.DB, o.Engine))
	}
	if o.Hasher != nil {
		h := o.Hasher
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aura_password_hashes_running",
				Help: "Password hashes (argon2id, bcrypt) computing now."}, func() float64 { return float64(h.Running()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aura_password_hashes_waiting",
				Help: "Callers waiting for a password-hash slot."}, func() float64 { return float64(h.Waiting()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aura_password_hashes_max",
				Help: "Password hashes that may run at once (auth.max_concurrent_hashes)."}, func() float64 { return float64(h.Limit()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "aura_password_hashes_refused_total",
				Help: "Callers refused because too many hashes were waiting (answered 503)."}, func() float64 { return float64(h.Refused()) }),
		)
	}
	if o.Queues != nil {
		if o.QueueTimeout <= 0 {
			o.QueueTimeout = defaultTimout
		}
		reg.MustRegister(&queueCollector{read: o.Queues, timeout: o.QueueTimeout, kinds: o.Kinds, log: o.Log})
	}
	return m
}

// Handler serves the exposition (text or protobuf, as the scraper asks).
// A collector that fails is logged and left out; the rest is served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// Registry is the registry of the families (for tests and extra collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// BackupDone records a scheduled backup: its size and duration and end
// time when it succeeded, a failure otherwise.
func (m *Metrics) BackupDone(ok bool, size int64, took time.Duration, at time.Time) {
	if !ok {
		m.backupFailed.Inc()
		return
	}
	m.backupLast.Set(float64(at.Unix()))
	m.backupSize.Set(float64(size))
	m.backupTook.Set(took.Seconds())
}

// RequestStarted counts a request in flight; RequestDone must follow.
func (m *Metrics) RequestStarted() { m.inFlight.Inc() }

// RequestDone records a request answered with status after took. route is
// the router's pattern (never the raw path, whose ids would make a series
// per resource); methods outside the standard ones are counted as OTHER.
func (m *Metrics) RequestDone(route, method string, status int, took time.Duration) {
	m.inFlight.Dec()
	if !knownMethods[method] {
		method = "OTHER"
	}
	m.httpDuration.WithLabelValues(route, method, strconv.Itoa(status)).Observe(took.Seconds())
}

// JobFinished is queue.Observer.
func (m *Metrics) JobFinished(kind, outcome string, took time.Duration) {
	m.jobDuration.WithLabelValues(kind, outcome).Observe(took.Seconds())
}

// MailSent is mail.Observer: a message accepted, also a done mail job.
func (m *Metrics) MailSent(kind string, took time.Duration) {
	m.mailSent.WithLabelValues(kind).Inc()
	m.jobDuration.WithLabelValues("mail", "done").Observe(took.Seconds())
}

// MailFailed is mail.Observer: a delivery that failed, to be retried or
// dropped for good.
func (m *Metrics) MailFailed(kind string, dropped bool, took time.Duration) {
	out := mailOutcomes[0]
	jobOut := "retry"
	if dropped {
		out, jobOut = mailOutcomes[1], "given_up"
	}
	m.mailFailed.WithLabelValues(kind, out).Inc()
	m.jobDuration.WithLabelValues("mail", jobOut).Observe(took.Seconds())
}

// MailExpired is mail.Observer: n unsent messages whose link expired.
func (m *Metrics) MailExpired(n int64) { m.mailExpired.Add(float64(n)) }

// LoginFailed is accounts.Observer.
func (m *Metrics) LoginFailed(reason string) { m.loginFailed.WithLabelValues(reason).Inc() }

// RateLimited is accounts.Observer.
func (m *Metrics) RateLimited(limit string) { m.rateLimited.WithLabelValues(limit).Inc() }

// queueCollector reads the queues when Prometheus scrapes.
type queueCollector struct {
	read    QueueFunc
	timeout time.Duration
	kinds   []string
	log     *slog.Logger
}

var (
	queueDepthDesc = prometheus.NewDesc("aura_queue_depth",
		"Items of a queue not finished, by kind (analyze: the analysis jobs, mail: the outbox) and state "+
			"(ready: due and unclaimed, delayed: waiting for a retry, running: claimed under a live lease).",
		[]string{"kind", "state"}, nil)
	queueOldestDesc = prometheus.NewDesc("aura_queue_oldest_ready_seconds",
		"How long the oldest ready item of a queue has been due (0 when none is).", []string{"kind"}, nil)
	queueUpDesc = prometheus.NewDesc("aura_queue_depth_up",
		"1 when the queue depths could be read at this scrape, 0 when the database did not answer in time.", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueOldestDesc
	ch <- queueUpDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	qs, err := c.read(ctx)
	if err != nil {
		c.log.Warn("metrics: queue depths not read", "err", err)
		ch <- prometheus.MustNewConstMetric(queueUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(queueUpDesc, prometheus.GaugeValue, 1)
	seen := map[string]bool{}
	emit := func(q Queue) {
		seen[q.Kind] = true
		for i, n := range []int64{q.Ready, q.Delayed, q.Running} {
			ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(n), q.Kind, queueStates[i])
		}
		ch <- prometheus.MustNewConstMetric(queueOldestDesc, prometheus.GaugeValue, q.OldestReady.Seconds(), q.Kind)
	}
	for _, q := range qs {
		if !seen[q.Kind] {
			emit(q)
		}
	}
	for _, k := range c.kinds {
		if !seen[k] {
			emit(Queue{Kind: k})
		}
	}
}
