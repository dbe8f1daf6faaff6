package dbcopy

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows a bar per table on a terminal, one plain line per table
// elsewhere (logs, pipes, CI).
type progress struct {
	w     io.Writer
	tty   bool
	bar   *progressbar.ProgressBar
	start time.Time
}

func newProgress(w io.Writer) *progress {
	if w == nil {
		w = io.Discard
	}
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progress) begin(table string, total int64) {
	p.start = time.Now()
	if p.tty && total > 0 {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(fmt.Sprintf("%-16s", table)),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
}

func (p *progress) add(n int) {
	if p.bar != nil {
		_ = p.bar.Add(n)
	}
}

func (p *progress) end(table string, rows int64) {
	if p.bar != nil {
		_ = p.bar.Finish()
		_ = p.bar.Clear()
		p.bar = nil
	}
	fmt.Fprintf(p.w, "copied %-16s %8d rows  %s\n", table, rows, time.Since(p.start).Round(time.Millisecond))
}

// abort leaves the terminal on a clean line after a failure mid-table.
func (p *progress) abort() {
	if p.bar != nil {
		_ = p.bar.Exit()
		fmt.Fprintln(p.w)
		p.bar = nil
	}
}
