package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"bitnet/engine/compute"
)

// TestLogitBiasOrder: after the biases, the candidates are in the order a
// full sort gives (NaN logits last, by id), for random logits and biases.
func TestLogitBiasOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		n := 1 + r.IntN(300)
		c := make([]compute.Candidate, n)
		for i := range c {
			c[i] = compute.Candidate{ID: int32(i), Logit: float32(r.IntN(20)) - 10}
			if r.IntN(40) == 0 {
				c[i].Logit = float32(math.NaN())
			}
		}
		full := func(a, b compute.Candidate) int {
			an, bn := a.Logit != a.Logit, b.Logit != b.Logit
			switch {
			case an && bn, !an && !bn && a.Logit == b.Logit:
				return int(a.ID - b.ID)
			case an:
				return 1
			case bn:
				return -1
			case a.Logit > b.Logit:
				return -1
			}
			return 1
		}
		slices.SortFunc(c, full)
		bias := map[int32]float32{}
		for range r.IntN(6) {
			bias[int32(r.IntN(n))] = float32(r.IntN(41) - 20)
		}
		lp, err := newLogprober(GenerateOptions{LogitBias: bias}, n)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(c)
		for i := range want {
			want[i].Logit += bias[want[i].ID]
		}
		slices.SortFunc(want, full)
		got := lp.apply(c)
		for i := range want {
			if got[i].ID != want[i].ID {
				t.Fatalf("trial %d: position %d holds %v, want %v", trial, i, got[i], want[i])
			}
		}
	}
}
