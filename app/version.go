package app

import (
	"runtime"
	"runtime/debug"
	"time"

	"aura/handlers"
)

// Build is what the running binary was built from, read from the build
// information the Go toolchain embeds (runtime/debug.ReadBuildInfo).
type Build struct {
	// Version is the main module's version: a tag (v1.2.3), a pseudo-version
	// of the commit (v0.0.0-20261126...-abcdef123456, "+dirty" when the tree
	// had changes), or "(devel)" when the toolchain could not tell.
	Version string
	// Revision and Time are the VCS commit and its time; Dirty is true when
	// the tree had uncommitted changes. Empty for `go run` and test binaries,
	// which are built without VCS stamping.
	Revision string
	Time     string
	Dirty    bool
	// Go is the toolchain that built the binary.
	Go string
}

// ReadBuild reads the build information of the running binary.
func ReadBuild() Build {
	b := Build{Version: "(devel)", Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		b.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Dirty = s.Value == "true"
		}
	}
	return b
}

// view is b as the operator health view shows it.
func (b Build) view() handlers.VersionView {
	return handlers.VersionView{AURA: b.Version, Revision: b.Revision, BuildTime: buildTime(b.Time), Dirty: b.Dirty, Go: b.Go}
}

// buildTime is the VCS commit time in the one form of instants in answers
// (handlers.TimeLayout); "" stays "".
func buildTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return handlers.FormatTime(t)
}

// Version is AURA's version, from the build information (ReadBuild); a
// binary built with -ldflags "-X main.version=..." sets its own.
var Version = ReadBuild().Version
