package computetest

import (
	"math"
	"strings"
	"testing"
)

func TestCompareCatchesProblems(t *testing.T) {
	nan := float32(math.NaN())
	want := Result{Out: []float32{1, 2, 3}, Guard: []float32{nan, nan, nan}}
	cases := []struct {
		name string
		c    Case
		got  Result
		msg  string
	}{
		{"unwritten", Case{}, Result{Out: []float32{1, nan, 3}, Guard: want.Guard}, "NaN"},
		{"overwritten guard", Case{}, Result{Out: want.Out, Guard: []float32{nan, 0, nan}}, "wrote past"},
		{"inexact", Case{Exact: true}, Result{Out: []float32{1, 2, 3.0000002}, Guard: want.Guard}, "exactly"},
		{"far", Case{}, Result{Out: []float32{1, 2, 3.01}, Guard: want.Guard}, "MSE"},
		{"size", Case{}, Result{Out: []float32{1, 2}}, "values"},
	}
	for _, c := range cases {
		if msg := Compare(c.c, c.got, want); !strings.Contains(msg, c.msg) {
			t.Errorf("%s: Compare said %q, want a message containing %q", c.name, msg, c.msg)
		}
	}
	if msg := Compare(Case{}, Result{Out: []float32{1, 2, 3.0000002}, Guard: want.Guard}, want); msg != "" {
		t.Errorf("a last-bit difference failed the float comparison: %s", msg)
	}
}
