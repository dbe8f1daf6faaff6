package app

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"

	"aura/config"
)

// applyMemoryLimit sets the Go runtime's soft memory limit from
// server.memory_limit_mib, for the whole process; 0 keeps Go's default (the
// GOMEMLIMIT variable, else no limit). Near the limit the garbage collector
// runs more often and returns free memory to the system sooner: argon2id's
// 19 MiB per hash then stays with the system instead of the heap, at some CPU
// cost per login (docs/performance.md has the figures).
func applyMemoryLimit(cfg *config.Config, log *slog.Logger) {
	if mib := cfg.Server.MemoryLimitMiB; mib > 0 {
		debug.SetMemoryLimit(mib << 20)
		log.Info("memory limit", "mib", mib)
	}
}

// applyWorkerProcs gives a server that also analyses one more Go processor
// per analysis worker, unless GOMAXPROCS is set: a worker holds its
// processor for the whole analysis, and with analysis.nice its thread yields
// the CPU to the request threads, which then need processors of their own
// to run on (docs/performance.md, "Screening pipeline").
func applyWorkerProcs(cfg *config.Config, log *slog.Logger) {
	if cfg.Analysis.Nice == 0 || cfg.Analysis.Workers == 0 || os.Getenv("GOMAXPROCS") != "" {
		return
	}
	n := runtime.GOMAXPROCS(0) + cfg.Analysis.Workers
	runtime.GOMAXPROCS(n)
	log.Info("processors", "gomaxprocs", n, "analysis_workers", cfg.Analysis.Workers, "analysis_nice", cfg.Analysis.Nice)
}
