package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"bitnet/engine"
	"bitnet/internal/server"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// genFlags are the sampling and generation flags of run and chat; serve
// takes them as the defaults of requests.
type genFlags struct {
	maxNew        int
	temperature   float64
	topK          int
	topP, minP    float64
	repeatPenalty float64
	repeatLastN   int
	seed          int64
	stops         stringList
	runAhead      int
	lookup        int
}

func (g *genFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&g.maxNew, "max-new-tokens", 256, "maximum tokens to generate (-1: until end of text or a full context)")
	fs.Float64Var(&g.temperature, "temperature", 0.8, "sampling temperature (0: greedy)")
	fs.IntVar(&g.topK, "top-k", 40, "keep the k most likely tokens (0: all)")
	fs.Float64Var(&g.topP, "top-p", 0.95, "nucleus sampling threshold (1: off)")
	fs.Float64Var(&g.minP, "min-p", 0.05, "drop tokens below min-p times the most likely one (0: off)")
	fs.Float64Var(&g.repeatPenalty, "repeat-penalty", 1.0, "penalty for recently seen tokens (1: off)")
	fs.IntVar(&g.repeatLastN, "repeat-last-n", 64, "window of the repeat penalty")
	fs.Int64Var(&g.seed, "seed", -1, "random seed (-1: $BITNET_SEED, or random)")
	fs.Var(&g.stops, "stop", "stop when this text is generated (repeatable)")
	fs.IntVar(&g.lookup, "lookup", 0, fmt.Sprintf("draft up to this many tokens from the text so far (what followed the last match of its latest words) and check them in one step: greedy decoding's tokens, or sampling's distribution, faster on text that repeats its context (0: off; at most %d; not with a repetition penalty; run-ahead is then off)", engine.MaxLookup))
	fs.IntVar(&g.runAhead, "run-ahead", 0, "greedy decoding on a GPU: decode steps chained on the device without a round trip to the host (0: automatic, up to 16; 1: off; at most 64)")
}

// checkRunAhead checks a --run-ahead value: 0 (automatic) to
// engine.MaxRunAhead.
func checkRunAhead(n int) error {
	if n < 0 || n > engine.MaxRunAhead {
		return usageErrorf("--run-ahead %d: want 0 (automatic) to %d", n, engine.MaxRunAhead)
	}
	return nil
}

func (g *genFlags) validate() error {
	if err := checkRunAhead(g.runAhead); err != nil {
		return err
	}
	if g.lookup < 0 || g.lookup > engine.MaxLookup {
		return usageErrorf("--lookup %d: want 0 (off) to %d", g.lookup, engine.MaxLookup)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"--temperature", g.temperature}, {"--top-p", g.topP}, {"--min-p", g.minP}, {"--repeat-penalty", g.repeatPenalty},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return usageErrorf("%s %g: want a finite number", f.name, f.v)
		}
	}
	switch {
	case g.temperature < 0:
		return usageErrorf("--temperature %g must not be negative", g.temperature)
	case g.topK < 0:
		return usageErrorf("--top-k %d must not be negative", g.topK)
	case g.topP < 0 || g.topP > 1:
		return usageErrorf("--top-p %g must be in [0, 1]", g.topP)
	case g.minP < 0 || g.minP > 1:
		return usageErrorf("--min-p %g must be in [0, 1]", g.minP)
	case g.repeatPenalty <= 0:
		return usageErrorf("--repeat-penalty %g must be positive", g.repeatPenalty)
	case g.maxNew == 0 || g.maxNew < -1:
		return usageErrorf("--max-new-tokens %d: want a positive number or -1", g.maxNew)
	}
	return nil
}

func (g *genFlags) sampler() (*engine.Sampler, uint64, error) {
	seed := uint64(rand.Int64())
	switch {
	case g.seed >= 0:
		seed = uint64(g.seed)
	case os.Getenv("BITNET_SEED") != "":
		v, err := strconv.ParseUint(os.Getenv("BITNET_SEED"), 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("BITNET_SEED=%q: %w", os.Getenv("BITNET_SEED"), err)
		}
		seed = v
	case os.Getenv("BITNET_DETERMINISTIC") == "1":
		seed = 0
	}
	return g.params().Sampler(seed), seed, nil
}

// params are the flags as generation options (the seed as given).
func (g *genFlags) params() server.Params {
	return server.Params{
		MaxTokens: g.maxNew, Temperature: g.temperature, TopK: g.topK, TopP: g.topP, MinP: g.minP,
		RepeatPenalty: g.repeatPenalty, RepeatLastN: g.repeatLastN, Seed: g.seed, Stop: g.stops, RunAhead: g.runAhead, Lookup: g.lookup,
	}
}

// stopWriter writes text to w until one of the stop strings appears (see
// server.StopFilter).
type stopWriter struct {
	w       *bufio.Writer
	f       *server.StopFilter
	stopped bool
}

func newStopWriter(w *bufio.Writer, stops []string) *stopWriter {
	return &stopWriter{w: w, f: server.NewStopFilter(stops, func(s string) { w.WriteString(s) })}
}

// write adds text and reports whether a stop string was reached.
func (s *stopWriter) write(text string) bool {
	s.stopped = s.f.Write(text)
	return s.stopped
}

func (s *stopWriter) flush() { s.f.Flush() }
