package server

import (
	"strings"
	"testing"
)

func TestStopFilter(t *testing.T) {
	cases := []struct {
		stops  []string
		pieces []string
		want   string
		stop   bool
	}{
		{[]string{"END", "\n\n"}, []string{"Hello", " wor", "ld E", "N", "D tail"}, "Hello world ", true},
		{[]string{"END"}, []string{"Hello", " E", "N", "d"}, "Hello ENd", false},
		{[]string{"abc", "b"}, []string{"xa", "bc"}, "x", true},
		{[]string{""}, []string{"a", "b"}, "ab", false},
		{nil, []string{"a", "b"}, "ab", false},
		{[]string{"\nUser:"}, []string{"Hi.\n", "Us", "er: x"}, "Hi.", true},
	}
	for _, c := range cases {
		var b strings.Builder
		var emitted []string
		f := NewStopFilter(c.stops, func(s string) { b.WriteString(s); emitted = append(emitted, s) })
		stopped := false
		for _, p := range c.pieces {
			if f.Write(p) {
				stopped = true
				break
			}
		}
		f.Flush()
		if b.String() != c.want || stopped != c.stop || f.Stopped() != c.stop {
			t.Errorf("stops %q, pieces %q: %q (stopped %v), want %q (%v)", c.stops, c.pieces, b.String(), stopped, c.want, c.stop)
		}
		for _, e := range emitted {
			if e == "" {
				t.Errorf("empty text emitted")
			}
		}
	}
}
