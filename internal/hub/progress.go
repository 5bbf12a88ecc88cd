package hub

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Progress reports a download: Start once (have is what an earlier
// download left), Update with the bytes present so far (it may go back to
// 0 when the server cannot resume), Stop at the end.
type Progress interface {
	Start(name string, size, have int64)
	Update(have int64)
	Stop(ok bool)
}

type nopProgress struct{}

func (nopProgress) Start(string, int64, int64) {}
func (nopProgress) Update(int64)               {}
func (nopProgress) Stop(bool)                  {}

// NewProgress reports downloads on w: on a terminal (tty) as a bar redrawn
// in place, otherwise as a line every 10 seconds. Both give the bytes, the
// rate and the time left, and a last line with the total.
func NewProgress(w io.Writer, tty bool) Progress {
	return &progress{w: w, tty: tty, now: time.Now}
}

type progress struct {
	w    io.Writer
	tty  bool
	now  func() time.Time
	name string
	size int64

	start     time.Time // when this download started
	base      int64     // bytes present at start
	have      int64
	last      time.Time // last line or redraw
	lineWidth int
}

func (p *progress) Start(name string, size, have int64) {
	p.name, p.size, p.have, p.base = name, size, have, have
	p.start = p.now()
	p.last = p.start
	msg := "downloading " + name
	if size >= 0 {
		msg += " (" + FormatBytes(size) + ")"
	}
	if have > 0 {
		msg += ", resuming at " + FormatBytes(have)
	}
	fmt.Fprintln(p.w, msg)
	if p.tty {
		p.draw()
	}
}

func (p *progress) Update(have int64) {
	if have < p.base {
		p.base, p.start = have, p.now()
	}
	p.have = have
	now := p.now()
	interval := 10 * time.Second
	if p.tty {
		interval = 100 * time.Millisecond
	}
	if now.Sub(p.last) < interval {
		return
	}
	p.last = now
	if p.tty {
		p.draw()
	} else {
		fmt.Fprintln(p.w, p.status())
	}
}

func (p *progress) Stop(ok bool) {
	if p.tty {
		p.draw()
		fmt.Fprintln(p.w)
	}
	if !ok {
		return
	}
	d := p.now().Sub(p.start)
	fmt.Fprintf(p.w, "downloaded %s: %s in %s (%s/s)\n", p.name, FormatBytes(p.have-p.base),
		d.Round(100*time.Millisecond), FormatBytes(int64(p.rate())))
}

// rate is bytes per second since the start.
func (p *progress) rate() float64 {
	d := p.now().Sub(p.start).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(p.have-p.base) / d
}

// status is "45.1% 540.2 MB of 1.2 GB, 25.3 MB/s, 26s left".
func (p *progress) status() string {
	var b strings.Builder
	if p.size > 0 {
		fmt.Fprintf(&b, "%5.1f%% %s of %s", 100*float64(p.have)/float64(p.size), FormatBytes(p.have), FormatBytes(p.size))
	} else {
		b.WriteString(FormatBytes(p.have))
	}
	r := p.rate()
	fmt.Fprintf(&b, ", %s/s", FormatBytes(int64(r)))
	if r > 0 && p.size > 0 && p.have <= p.size {
		eta := time.Duration(float64(p.size-p.have) / r * float64(time.Second))
		fmt.Fprintf(&b, ", %s left", eta.Round(time.Second))
	}
	return b.String()
}

func (p *progress) draw() {
	const width = 30
	bar := ""
	if p.size > 0 {
		n := int(float64(width) * float64(min(p.have, p.size)) / float64(p.size))
		bar = "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "] "
	}
	line := bar + p.status()
	pad := max(p.lineWidth-len(line), 0)
	p.lineWidth = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
}

// FormatBytes formats a size in decimal units: 1.19 GB.
func FormatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB", "PB"} {
		f /= unit
		if f < unit || u == "PB" {
			if f < 10 {
				return fmt.Sprintf("%.2f %s", f, u)
			}
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return ""
}
