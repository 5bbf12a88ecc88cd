package server

import "strings"

// StopFilter passes generated text through until one of its stop strings
// appears. It holds back any suffix that could be the start of a stop string,
// so that no part of a stop string is ever emitted.
type StopFilter struct {
	stops   []string
	emit    func(string)
	pending string
	stopped bool
}

// NewStopFilter returns a filter that sends text to emit. Empty stop strings
// are ignored.
func NewStopFilter(stops []string, emit func(string)) *StopFilter {
	return &StopFilter{stops: stops, emit: emit}
}

// Write adds text and reports whether a stop string has been reached. Text
// after the stop string is dropped, and so is everything written later.
func (f *StopFilter) Write(text string) bool {
	if f.stopped {
		return true
	}
	f.pending += text
	cut := -1
	for _, st := range f.stops {
		if st == "" {
			continue
		}
		if i := strings.Index(f.pending, st); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut >= 0 {
		f.send(f.pending[:cut])
		f.pending, f.stopped = "", true
		return true
	}
	hold := 0
	for _, st := range f.stops {
		for n := min(len(st)-1, len(f.pending)); n > hold; n-- {
			if strings.HasSuffix(f.pending, st[:n]) {
				hold = n
				break
			}
		}
	}
	f.send(f.pending[:len(f.pending)-hold])
	f.pending = f.pending[len(f.pending)-hold:]
	return false
}

// Flush emits the text held back (generation ended without a stop string).
func (f *StopFilter) Flush() {
	f.send(f.pending)
	f.pending = ""
}

// Stopped reports whether a stop string was reached.
func (f *StopFilter) Stopped() bool { return f.stopped }

func (f *StopFilter) send(s string) {
	if s != "" {
		f.emit(s)
	}
}
