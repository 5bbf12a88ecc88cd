package compute

import (
	"container/heap"
	"math"
	"sort"
)

// TopK returns the k largest entries of logits in Candidate.Less order
// (larger logit first, then smaller id), appended to dst[:0]. NaN logits
// are never selected unless fewer than k entries are numbers. It runs in
// O(n log k): a min-heap of the k best seen so far rejects most entries
// with one comparison.
func TopK(dst []Candidate, logits []float32, k int) []Candidate {
	k = min(k, len(logits))
	if k <= 0 {
		return dst[:0]
	}
	h := candHeap(dst[:0])
	for i, v := range logits {
		if v != v { // NaN
			continue
		}
		c := Candidate{ID: int32(i), Logit: v}
		if len(h) < k {
			heap.Push(&h, c)
			continue
		}
		if c.Less(h[0]) {
			h[0] = c
			heap.Fix(&h, 0)
		}
	}
	for i := 0; len(h) < k && i < len(logits); i++ { // only NaN left
		if logits[i] != logits[i] {
			h = append(h, Candidate{ID: int32(i), Logit: float32(math.NaN())})
		}
	}
	out := []Candidate(h)
	sort.Slice(out, func(i, j int) bool { return lessNaN(out[i], out[j]) })
	return out
}

// lessNaN is Candidate.Less with NaN after every number.
func lessNaN(a, b Candidate) bool {
	an, bn := a.Logit != a.Logit, b.Logit != b.Logit
	if an || bn {
		if an && bn {
			return a.ID < b.ID
		}
		return bn
	}
	return a.Less(b)
}

// candHeap is a min-heap in Candidate.Less order: the root is the worst of
// the kept candidates.
type candHeap []Candidate

func (h candHeap) Len() int           { return len(h) }
func (h candHeap) Less(i, j int) bool { return h[j].Less(h[i]) }
func (h candHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *candHeap) Push(x any)        { *h = append(*h, x.(Candidate)) }
func (h *candHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Penalize applies a repetition penalty to logits in place at each listed id
// (negative ids are skipped): positive logits are divided by penalty, others
// multiplied by it. Every backend's Penalize computes exactly this.
func Penalize(logits []float32, ids []int32, penalty float32) {
	for _, id := range ids {
		if id < 0 || int(id) >= len(logits) {
			continue
		}
		if logits[id] > 0 {
			logits[id] /= penalty
		} else {
			logits[id] *= penalty
		}
	}
}
