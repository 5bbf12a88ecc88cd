package server

import (
	"fmt"
	"math"

	"bitnet/engine"
)

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
	RunAhead      int // greedy decode steps chained on the device (engine.GenerateOptions.RunAhead)
	Lookup        int // draft tokens checked per step (engine.GenerateOptions.Lookup)
}

// DefaultParams are llama.cpp's defaults, which suit small models.
var DefaultParams = Params{
	MaxTokens: 256, Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05,
	RepeatPenalty: 1, RepeatLastN: 64, Seed: -1,
}

// The sampler divides logits by the temperature and the repetition penalty
// in float32: below MinTemperature and outside [MinRepeatPenalty,
// MaxRepeatPenalty] the quotients overflow to infinities (and their
// differences to NaN).
const (
	MinTemperature   = 1e-6 // the smallest positive temperature
	MinRepeatPenalty = 1e-6
	MaxRepeatPenalty = 1e6
)

// ParamError is an invalid sampling option. Field is the option's name in a
// request (temperature, top_p, min_p, repeat_penalty).
type ParamError struct {
	Field string
	Value float64
	Want  string // the valid values: "between 0 and 1"
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("%s must be %s (got %g)", e.Field, e.Want, e.Value)
}

// Validate reports the first sampling option that the sampler cannot use:
// NaN, an infinity, or a value outside the range where its arithmetic stays
// finite. The error is a *ParamError.
func (p Params) Validate() error {
	switch {
	case math.IsNaN(p.Temperature) || math.IsInf(p.Temperature, 0) || p.Temperature != 0 && p.Temperature < MinTemperature:
		return &ParamError{"temperature", p.Temperature, fmt.Sprintf("0 (greedy) or a finite number from %g", MinTemperature)}
	case !(p.TopP >= 0 && p.TopP <= 1):
		return &ParamError{"top_p", p.TopP, "between 0 and 1"}
	case !(p.MinP >= 0 && p.MinP <= 1):
		return &ParamError{"min_p", p.MinP, "between 0 and 1"}
	case !(p.RepeatPenalty == 0 || p.RepeatPenalty >= MinRepeatPenalty && p.RepeatPenalty <= MaxRepeatPenalty):
		return &ParamError{"repeat_penalty", p.RepeatPenalty, fmt.Sprintf("0 (off) or between %g and %g", MinRepeatPenalty, MaxRepeatPenalty)}
	}
	return nil
}

// Sampler returns a sampler with p's settings and the given seed.
func (p Params) Sampler(seed uint64) *engine.Sampler {
	return engine.NewSampler(engine.SamplerParams{
		Temperature: float32(p.Temperature), TopK: p.TopK, TopP: float32(p.TopP), MinP: float32(p.MinP),
		RepeatPenalty: float32(p.RepeatPenalty), RepeatLastN: p.RepeatLastN, Seed: seed,
	})
}
