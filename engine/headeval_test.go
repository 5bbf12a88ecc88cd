package engine

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTextScore(t *testing.T) {
	var s, ref TextScore
	// reference p = (1/4, 3/4), model q = (1/2, 1/2): KL = 1/4 ln(1/2) + 3/4 ln(3/2)
	s.add([]float32{0, 0}, 1, []float32{0, float32(math.Log(3))}, &ref)
	assert.InDelta(t, 4.0/3, ref.Perplexity(), 1e-6) // -ln(3/4) for the reference
	assert.Equal(t, 0, ref.Compared)
	assert.InDelta(t, 0.25*math.Log(0.5)+0.75*math.Log(1.5), s.MeanKL(), 1e-7)
	assert.InDelta(t, 2, s.Perplexity(), 1e-12) // -ln(1/2) per token
	assert.Equal(t, 0.0, s.Top1Agreement())     // argmax 0 (first of equals) against 1
	assert.InDelta(t, math.Log(3), s.MaxAbsDev, 1e-6)
	// identical distributions, shifted logits: KL 0, same argmax
	s.add([]float32{1, 5, 2}, -1, []float32{11, 15, 12}, &ref)
	assert.Equal(t, 1, ref.Positions)
	assert.Equal(t, 2, s.Compared)
	assert.Equal(t, 1, s.Positions)
	assert.Equal(t, 0.5, s.Top1Agreement())
	assert.InDelta(t, (0.25*math.Log(0.5)+0.75*math.Log(1.5))/2, s.MeanKL(), 1e-7)
	assert.InDelta(t, 10, s.MaxAbsDev, 1e-6)

	var empty TextScore
	assert.True(t, math.IsNaN(empty.Perplexity()))
	assert.True(t, math.IsNaN(empty.MeanKL()))
}
