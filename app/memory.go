package app

import (
	"log/slog"
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
