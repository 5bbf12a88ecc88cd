package engine

import (
	"testing"
	"time"
)

// TestBurstLen: a burst is the largest power of two within RunAhead, the
// tokens still wanted and the positions left, and when chosen
// automatically, within about 25 ms at the last time per step.
func TestBurstLen(t *testing.T) {
	cases := []struct {
		ahead, want, pos int
		auto             bool
		perStep          time.Duration
		n                int
	}{
		{ahead: 8, want: 100, pos: 10, n: 8},
		{ahead: 8, want: -1, pos: 10, n: 8},
		{ahead: 64, want: 25, pos: 10, n: 16},
		{ahead: 64, want: 1, pos: 10, n: 1},
		{ahead: 16, want: -1, pos: 100 - 7, n: 4},                                       // 7 positions left of 100
		{ahead: 12, want: -1, pos: 10, n: 8},                                            // a power of two
		{ahead: 16, want: -1, pos: 10, auto: true, n: 1},                                // not measured yet
		{ahead: 16, want: -1, pos: 10, auto: true, perStep: 2 * time.Millisecond, n: 8}, // 12 steps in 25 ms
		{ahead: 16, want: -1, pos: 10, auto: true, perStep: time.Millisecond, n: 16},
		{ahead: 16, want: -1, pos: 10, auto: true, perStep: 20 * time.Millisecond, n: 1},
		{ahead: 16, want: 3, pos: 10, auto: true, perStep: time.Millisecond, n: 2},
	}
	for _, c := range cases {
		s := &State{NCtx: 100, Pos: c.pos}
		if n := s.burstLen(c.ahead, c.want, c.auto, c.perStep); n != c.n {
			t.Errorf("%+v: %d steps, want %d", c, n, c.n)
		}
	}
}
