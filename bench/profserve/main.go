// Command profserve is AURA with net/http/pprof on a side port, for the
// benchmark's -profile mode: the same app.New and Serve as `aura serve`, so a
// CPU profile taken under load shows the service's own hot spots. The
// profiling listener is AURA_BENCH_PPROF_ADDR (default 127.0.0.1:6060); it is
// a benchmarking aid and never part of the shipped binary.
package main

import (
	"context"
	"log"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
	"os/signal"
	"syscall"

	"aura/app"
	"aura/config"
)

func main() {
	addr := os.Getenv("AURA_BENCH_PPROF_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6060"
	}
	// Not a setting of AURA: config.Load would refuse it as an unknown AURA_*
	// variable.
	_ = os.Unsetenv("AURA_BENCH_PPROF_ADDR")
	go func() { log.Println(http.ListenAndServe(addr, nil)) }()

	cfg, err := config.Load(config.Options{})
	if err != nil {
		app.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, cfg, os.Stderr); err != nil {
		app.Fatal(err)
	}
}
