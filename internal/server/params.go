package server

import "bitnet/engine"

// Params are the sampling and length options of a generation.
type Params struct {
	MaxTokens     int // tokens to generate at most; < 0: until an end token or a full context
	Temperature   float64
	TopK          int
	TopP          float64
	MinP          float64
	RepeatPenalty float64
	RepeatLastN   int
	Seed          int64 // < 0: a random seed per generation
	Stop          []string
}

// DefaultParams are llama.cpp's defaults, which suit small models.
var DefaultParams = Params{
	MaxTokens: 256, Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05,
	RepeatPenalty: 1, RepeatLastN: 64, Seed: -1,
}

// Sampler returns a sampler with p's settings and the given seed.
func (p Params) Sampler(seed uint64) *engine.Sampler {
	return engine.NewSampler(engine.SamplerParams{
		Temperature: float32(p.Temperature), TopK: p.TopK, TopP: float32(p.TopP), MinP: float32(p.MinP),
		RepeatPenalty: float32(p.RepeatPenalty), RepeatLastN: p.RepeatLastN, Seed: seed,
	})
}
