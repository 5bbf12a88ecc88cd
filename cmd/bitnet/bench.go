package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"bitnet/cpu"
	"bitnet/cpu/kernels"
	"bitnet/engine"
	"bitnet/engine/compute"
	"bitnet/gguf"
)

func init() {
	register(&command{
		name:  "bench",
		usage: "bench --model M [-p 128,512] [-n 128] [-d depth] [-r 5] [--threads N] [--backend B] [--json|--md] [--op-times] [--run-ahead N] [--lookup 1,3,7]",
		short: "Measure prompt processing and generation speed (mean ± stddev tokens/s over repetitions, warm-up excluded).",
		run:   runBench,
	})
}

// benchResult is one test of the --json output (stable for scripts).
type benchResult struct {
	Test        string    `json:"test"`          // "pp512" or "tg128"
	Tokens      int       `json:"tokens"`        // tokens per repetition
	Reps        int       `json:"reps"`          // timed repetitions
	TPSMean     float64   `json:"tps_mean"`      // tokens/s
	TPSStddev   float64   `json:"tps_stddev"`    // tokens/s
	TPSSamples  []float64 `json:"tps_samples"`   // tokens/s of each repetition
	GBPerSecond float64   `json:"gb_per_second"` // tg only: bytes_per_token * tps_mean / 1e9
	// tg only, cpu backend: the streaming read measured just before each
	// repetition (GB/s), and the mean over repetitions of the repetition's
	// GB/s divided by its probe's, in percent.
	StreamSamples []float64 `json:"stream_samples,omitempty"`
	BoundPercent  float64   `json:"bound_percent"`
	// Device backends: the work given to the device per token of the
	// timed repetitions.
	Device *devicePerToken `json:"device,omitempty"`
	// The cpu backend: how its workers spent a token of the timed
	// repetitions.
	Sched *schedPerToken `json:"sched,omitempty"`
	// tg with a screened LM head (--head-screen): the head's rows computed
	// exactly per token, and the bytes a token read (the model's less the
	// head, plus the screen and those rows), which gb_per_second and
	// bound_percent then use.
	ScreenRows          float64 `json:"screen_rows_per_token,omitempty"`
	ScreenBytesPerToken int64   `json:"screened_bytes_per_token,omitempty"`
	// tg: the KV cache's bytes that attention reads per token, on average
	// over the test (every layer's K and V rows of the positions each
	// token attends to), which gb_per_second and bound_percent add.
	CacheBytesPerToken int64 `json:"cache_bytes_per_token,omitempty"`
}

// schedPerToken splits a token's time on the cpu backend: parallel
// sections (the workers' time in them running chunks, waking up, or
// waiting for the slowest worker) and the rest, run by one thread.
type schedPerToken struct {
	Workers    int     `json:"workers"`
	Sections   float64 `json:"sections"`    // parallel sections per token
	TotalMs    float64 `json:"total_ms"`    // wall time per token
	ParallelMs float64 `json:"parallel_ms"` // wall time in parallel sections
	SerialMs   float64 `json:"serial_ms"`   // wall time outside them
	BusyPct    float64 `json:"busy_pct"`    // workers' time in sections running chunks
	WakeUpPct  float64 `json:"wakeup_pct"`  // ... picking a section up
	WaitPct    float64 `json:"wait_pct"`    // ... waiting for the slowest worker
}

func newSchedPerToken(s cpu.SchedStats, total time.Duration, tokens int) *schedPerToken {
	n := float64(tokens)
	r := &schedPerToken{Workers: s.Workers, Sections: float64(s.Sections) / n, TotalMs: total.Seconds() * 1e3 / n,
		ParallelMs: s.Wall.Seconds() * 1e3 / n, SerialMs: (total - s.Wall).Seconds() * 1e3 / n}
	if wt := float64(s.Workers) * s.Wall.Seconds(); wt > 0 {
		r.BusyPct = 100 * s.Busy.Seconds() / wt
		r.WakeUpPct = 100 * s.WakeUp.Seconds() / wt
		r.WaitPct = 100 - r.BusyPct - r.WakeUpPct
	}
	return r
}

func (s *schedPerToken) String() string {
	return fmt.Sprintf("per token: %.1f ms, of which %.1f ms in %.0f parallel sections on %d workers (busy %.1f%%, waking up %.1f%%, waiting for the slowest %.1f%% of the workers' time) and %.2f ms on one thread",
		s.TotalMs, s.ParallelMs, s.Sections, s.Workers, s.BusyPct, s.WakeUpPct, s.WaitPct, s.SerialMs)
}

// devicePerToken is compute.DeviceCounters over the tokens of a test.
type devicePerToken struct {
	Dispatches float64 `json:"dispatches"`
	Barriers   float64 `json:"barriers"`
	Submits    float64 `json:"submits"`
	Replays    float64 `json:"replays"`
	BytesUp    float64 `json:"bytes_up"`
	BytesDown  float64 `json:"bytes_down"`
	PrepareUs  float64 `json:"prepare_us"` // host time turning ops into commands
	// ReplayUs is the device time of the replays, from each one's first
	// command to its last, and TokenUs the time the test took (the host's
	// clock): their difference is what the round trips between the host
	// and the device cost, besides any work not replayed.
	ReplayUs float64 `json:"replay_device_us,omitempty"`
	TokenUs  float64 `json:"token_us"`
	// Step is the captured program that the replays ran last (zero without
	// them): one step, or several chained (--run-ahead).
	Step *compute.StepStructure `json:"captured_step,omitempty"`
}

// unit names what a result's rates count: steps for a lookup test (each
// of its steps checks a draft), tokens for the others.
func (r benchResult) unit() string {
	if strings.HasPrefix(r.Test, "lookup") {
		return "steps/s"
	}
	return "tokens/s"
}

// perToken divides the counters c of a test that generated or evaluated
// tokens tokens in wall time by the tokens.
func perToken(c compute.DeviceCounters, tokens int, wall time.Duration) *devicePerToken {
	n := float64(tokens)
	d := &devicePerToken{Dispatches: float64(c.Dispatches) / n, Barriers: float64(c.Barriers) / n, Submits: float64(c.Submits) / n,
		Replays: float64(c.Replays) / n, BytesUp: float64(c.BytesUp) / n, BytesDown: float64(c.BytesDown) / n,
		PrepareUs: c.Prepare.Seconds() * 1e6 / n, ReplayUs: c.ReplayTime.Seconds() * 1e6 / n, TokenUs: wall.Seconds() * 1e6 / n}
	if c.Replays > 0 {
		d.Step = &c.Step
	}
	return d
}

func (d *devicePerToken) String() string {
	s := fmt.Sprintf("per token: %.1f dispatches, %.1f barriers, %.2f submits (%.2f replays), %.0f B up, %.0f B down, %.1f µs preparing",
		d.Dispatches, d.Barriers, d.Submits, d.Replays, d.BytesUp, d.BytesDown, d.PrepareUs)
	if d.Step != nil {
		if d.Step.Steps > 1 {
			s += fmt.Sprintf("; the last captured program chains %d steps: %d dispatches, %d barriers", d.Step.Steps, d.Step.Dispatches, d.Step.Barriers)
		} else {
			s += fmt.Sprintf("; each replay runs the captured step: %d dispatches, %d barriers", d.Step.Dispatches, d.Step.Barriers)
		}
	}
	if d.ReplayUs > 0 {
		s += fmt.Sprintf("; the replays ran %.1f µs on the device of the %.1f µs per token (%.1f%%)", d.ReplayUs, d.TokenUs, 100*d.ReplayUs/d.TokenUs)
	}
	return s
}

type benchReport struct {
	Model         string        `json:"model"`
	Arch          string        `json:"arch"`
	ModelBytes    int64         `json:"model_bytes"`     // tensor data
	Params        int64         `json:"params"`          // elements of all tensors
	BytesPerToken int64         `json:"bytes_per_token"` // weight bytes read per generated token
	LMHead        string        `json:"lm_head"`         // the head's type: q8_0 or q6_k (--lm-head), or as stored (f16, f32, ...)
	HeadBytes     int64         `json:"lm_head_bytes"`   // of which the LM head
	Backend       string        `json:"backend"`
	Device        string        `json:"device"`
	Threads       int           `json:"threads"`
	Kernels       string        `json:"kernels,omitempty"`
	RunAhead      int           `json:"run_ahead"`                      // --run-ahead (1: each step's token from the host)
	HeadScreen    string        `json:"head_screen"`                    // --head-screen
	StreamGBps    float64       `json:"stream_gb_per_second,omitempty"` // best streaming read probe of the run
	GoVersion     string        `json:"go_version"`
	Date          string        `json:"date"`
	Results       []benchResult `json:"results"`
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%q is not a non-negative integer", f)
		}
		if v > 0 {
			out = append(out, v)
		}
	}
	return out, nil
}

func runBench(args []string, stdout, stderr io.Writer) error {
	c := commands["bench"]
	fs := newFlagSet(c, stderr)
	var mf modelFlags
	mf.register(fs)
	pp := fs.String("p", "128,512", "prompt lengths to test (comma-separated; 0 or empty skips)")
	ng := fs.String("n", "128", "generation lengths to test")
	depth := fs.Int("d", 0, "context depth: tokens already in the cache when each test starts (evaluated before the timing)")
	reps := fs.Int("r", 5, "timed repetitions of each test")
	asJSON := fs.Bool("json", false, "print JSON")
	asMD := fs.Bool("md", false, "print a Markdown table")
	stream := fs.Bool("stream", true, "measure the streaming read bandwidth (cpu backend) to compare generation with")
	runAhead := fs.Int("run-ahead", 1, "generation tests: 1 gives each step a random token from the host, as llama-bench does; otherwise greedy decoding gives each step the token picked before it, up to this many steps chained on a GPU without a round trip to the host (0: automatic, as run chooses)")
	lookups := fs.String("lookup", "", fmt.Sprintf("lookup steps to time (run --lookup): comma-separated draft lengths, 1 to %d; test lookupN times steps of the current token and N drafted ones, every row's best token picked, as many as the first -n (32 with -n 0), the cache growing by one token per step; its tokens/s are steps per second", engine.MaxLookup))
	parallels := fs.String("parallel", "", "sequences decoding together to time (serve --parallel): comma-separated counts, 2 to 64; test tgNxP has P sequences each generate N tokens greedily at the same time, their steps batched, and its tokens/s count all of them")
	opTimes := fs.Bool("op-times", false, "after the tests, time each backend op over one more generation run and print the time per token of each op kind (device backends wait after every op)")
	if err := parseNoArgs(fs, args, ""); err != nil {
		return err
	}
	pps, err := parseInts(*pp)
	if err != nil {
		return usageErrorf("-p: %v", err)
	}
	tgs, err := parseInts(*ng)
	if err != nil {
		return usageErrorf("-n: %v", err)
	}
	lks, err := parseInts(*lookups)
	if err != nil {
		return usageErrorf("--lookup: %v", err)
	}
	for _, d := range lks {
		if d > engine.MaxLookup {
			return usageErrorf("--lookup %d: want draft lengths of 1 to %d", d, engine.MaxLookup)
		}
	}
	pars, err := parseInts(*parallels)
	if err != nil {
		return usageErrorf("--parallel: %v", err)
	}
	for _, p := range pars {
		if p < 2 || p > 64 {
			return usageErrorf("--parallel %d: want 2 to 64 sequences", p)
		}
	}
	lookSteps := 32
	if len(tgs) > 0 {
		lookSteps = tgs[0]
	}
	if *depth < 0 {
		return usageErrorf("-d %d: want a non-negative depth", *depth)
	}
	if err := checkRunAhead(*runAhead); err != nil {
		return err
	}
	if *reps < 1 {
		return usageErrorf("-r %d: want at least 1", *reps)
	}
	if *asJSON && *asMD {
		return usageErrorf("--json and --md exclude each other")
	}
	maxLen := 1
	for _, p := range pps {
		maxLen = max(maxLen, p)
	}
	for _, n := range tgs {
		maxLen = max(maxLen, n)
	}
	for _, d := range lks {
		maxLen = max(maxLen, lookSteps+d)
	}
	maxLen += *depth
	if mf.ctxSize == 0 {
		mf.ctxSize = maxLen
	}
	if mf.batch == engine.DefaultBatch {
		mf.batch = max(mf.batch, min(maxLen, 512))
	}
	if *opTimes {
		mf.profile = compute.NewProfiler(nil)
	}
	l, err := mf.open(false)
	if err != nil {
		return err
	}
	defer l.Close()
	if maxLen > l.state.NCtx {
		return usageErrorf("a test of %d tokens does not fit --ctx-size %d", maxLen, l.state.NCtx)
	}
	for _, d := range lks {
		if d+1 > mf.batch {
			return usageErrorf("--lookup %d: a step of %d tokens exceeds --batch %d", d, d+1, mf.batch)
		}
	}
	rep := benchReport{
		Model: mf.model, Arch: l.model.Config.Arch, Backend: l.be.Name(), Device: l.be.Device(),
		GoVersion: runtime.Version(), Date: time.Now().UTC().Format(time.RFC3339),
		BytesPerToken: l.model.BytesPerToken(), LMHead: headLabel(l.model), HeadBytes: l.model.HeadBytes(),
		RunAhead: *runAhead, HeadScreen: l.model.ScreenHead.String(),
	}
	for _, t := range l.file.Tensors {
		rep.ModelBytes += t.Size
		rep.Params += t.Elements()
	}
	if l.be.Name() == "cpu" {
		rep.Threads = threadsOf(l)
		rep.Kernels = kernels.Path()
	}
	if k, ok := l.be.(interface{ Kernels() string }); ok {
		rep.Kernels = k.Kernels()
	}
	// The streaming-read probe: before the tests, after them, and before each
	// generation repetition, whose speed is compared with the probe next to
	// it (the bandwidth these shared machines give drifts over minutes).
	probe := func() float64 { return 0 }
	if *stream && l.be.Name() == "cpu" {
		buf, free := streamBuffer(streamBytes)
		defer free()
		for i := 0; i < len(buf); i += 4096 { // fault the pages in once
			buf[i] = 1
		}
		probe = func() float64 {
			v := streamBandwidth(buf, max(rep.Threads, 1), 3)
			rep.StreamGBps = max(rep.StreamGBps, v)
			return v
		}
	}
	probe()
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := l.model.Config.NVocab
	randomTokens := func(n int) []int32 {
		ids := make([]int32, n)
		for i := range ids {
			ids[i] = int32(rng.IntN(vocab))
		}
		return ids
	}
	// measure runs setup (not timed) and once (timed) for a warm-up and then
	// for each repetition.
	counting, _ := l.be.(compute.Counting)
	screens, _ := l.be.(compute.ScreenCounter)
	sched, _ := l.be.(interface {
		SetSchedStats(bool)
		SchedStats() cpu.SchedStats
	})
	measure := func(name string, tokens int, probed bool, setup, once func() error) (benchResult, error) {
		r := benchResult{Test: name, Tokens: tokens, Reps: *reps}
		var counted compute.DeviceCounters
		var sstats cpu.SchedStats
		var screenCalls, screenRows int64
		var timed time.Duration
		if *depth > 0 {
			r.Test += fmt.Sprintf("@d%d", *depth)
		}
		if err := setup(); err != nil {
			return r, err
		}
		if err := once(); err != nil { // warm-up, not timed
			return r, err
		}
		for i := 0; i < *reps; i++ {
			if err := setup(); err != nil {
				return r, err
			}
			if probed {
				if v := probe(); v > 0 {
					r.StreamSamples = append(r.StreamSamples, v)
				}
			}
			var c0 compute.DeviceCounters
			if counting != nil {
				c0 = counting.Counters()
			}
			if sched != nil {
				sched.SetSchedStats(true)
			}
			var sc0, sr0 int64
			if screens != nil {
				sc0, sr0 = screens.ScreenStats()
			}
			t0 := time.Now()
			if err := once(); err != nil {
				return r, err
			}
			el := time.Since(t0)
			r.TPSSamples = append(r.TPSSamples, float64(tokens)/el.Seconds())
			timed += el
			if sched != nil {
				sstats = sstats.Plus(sched.SchedStats())
				sched.SetSchedStats(false)
			}
			if counting != nil {
				counted = counted.Plus(counting.Counters().Sub(c0))
			}
			if screens != nil {
				sc1, sr1 := screens.ScreenStats()
				screenCalls, screenRows = screenCalls+sc1-sc0, screenRows+sr1-sr0
			}
		}
		if screenCalls > 0 {
			r.ScreenRows = float64(screenRows) / float64(screenCalls)
			fmt.Fprintf(stderr, "%s: LM head screened: %.1f of %d rows computed exactly per token\n", name, r.ScreenRows, l.model.Config.NVocab)
		}
		r.TPSMean, r.TPSStddev = meanStd(r.TPSSamples)
		fmt.Fprintf(stderr, "%s: %.2f ± %.2f %s\n", name, r.TPSMean, r.TPSStddev, r.unit())
		if counting != nil {
			r.Device = perToken(counted, tokens**reps, timed)
			fmt.Fprintf(stderr, "%s: %s\n", name, r.Device)
		}
		if sched != nil && *reps > 0 {
			r.Sched = newSchedPerToken(sstats, timed, tokens**reps)
			fmt.Fprintf(stderr, "%s: %s\n", name, r.Sched)
		}
		return r, nil
	}
	st := l.state
	// prefill resets the state and evaluates the depth tokens.
	prefix := randomTokens(*depth)
	prefill := func() error {
		st.Reset()
		if len(prefix) == 0 {
			return nil
		}
		_, err := st.Forward(prefix, false)
		return err
	}
	for _, p := range pps {
		ids := randomTokens(p)
		r, err := measure(fmt.Sprintf("pp%d", p), p, false, prefill, func() error {
			_, err := st.Forward(ids, false)
			return err
		})
		if err != nil {
			return err
		}
		rep.Results = append(rep.Results, r)
	}
	// generate evaluates ids one token per pass, as greedy generation does
	// (the best candidate is selected where the logits are, and only it is
	// read back); with run-ahead, ids[0] and then the tokens greedy
	// decoding picks.
	greedy := engine.Selection{K: 1, Penalty: 1}
	generate := func(ids []int32) error {
		if *runAhead != 1 {
			_, _, err := st.Generate(ids[:1], engine.GenerateOptions{MaxNewTokens: len(ids), RunAhead: *runAhead})
			return err
		}
		for _, id := range ids {
			if _, err := st.Next([]int32{id}, greedy, nil); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range tgs {
		ids := randomTokens(n)
		r, err := measure(fmt.Sprintf("tg%d", n), n, true, prefill, func() error { return generate(ids) })
		if err != nil {
			return err
		}
		bytes := rep.BytesPerToken
		if r.ScreenRows > 0 {
			rowBytes := float64(rep.HeadBytes) / float64(l.model.Config.NVocab)
			bytes += l.model.ScreenBytes() - rep.HeadBytes + int64(r.ScreenRows*rowBytes)
			r.ScreenBytesPerToken = bytes
		}
		r.CacheBytesPerToken = cacheBytesPerToken(l.model.Config, mf.kvDType(), *depth, n)
		bytes += r.CacheBytesPerToken
		r.GBPerSecond = float64(bytes) * r.TPSMean / 1e9
		if len(r.StreamSamples) == len(r.TPSSamples) {
			for i, tps := range r.TPSSamples {
				r.BoundPercent += 100 * float64(bytes) * tps / 1e9 / r.StreamSamples[i] / float64(len(r.TPSSamples))
			}
		}
		rep.Results = append(rep.Results, r)
	}
	// A lookup step of d drafted tokens over random tokens: the cost of
	// checking a draft (none is accepted but the first token, which
	// stays in the cache, as after a step that accepts nothing).
	var tgStep time.Duration
	if len(rep.Results) > 0 {
		if last := rep.Results[len(rep.Results)-1]; strings.HasPrefix(last.Test, "tg") && last.TPSMean > 0 {
			tgStep = time.Duration(float64(time.Second) / last.TPSMean)
		}
	}
	for _, d := range lks {
		ids := randomTokens(lookSteps * (d + 1))
		r, err := measure(fmt.Sprintf("lookup%d", d), lookSteps, false, prefill, func() error {
			for i := range lookSteps {
				p := st.Pos
				step := ids[i*(d+1) : (i+1)*(d+1)]
				if _, err := st.CheckDraft(step[0], step[1:]); err != nil {
					return err
				}
				st.Pos = p + 1
			}
			return nil
		})
		if err != nil {
			return err
		}
		if r.TPSMean > 0 {
			per := time.Duration(float64(time.Second) / r.TPSMean)
			msg := fmt.Sprintf("lookup%d: a step of %d tokens takes %.2f ms", d, d+1, per.Seconds()*1e3)
			if tgStep > 0 {
				msg += fmt.Sprintf(", %.2f times a generated token's step", per.Seconds()/tgStep.Seconds())
			}
			fmt.Fprintln(stderr, msg)
		}
		rep.Results = append(rep.Results, r)
	}
	for _, np := range pars {
		r, err := benchParallel(l, mf, np, tgs, prefix, randomTokens, measure, stderr)
		if err != nil {
			return err
		}
		rep.Results = append(rep.Results, r...)
	}
	if *opTimes {
		n := 128
		if len(tgs) > 0 {
			n = tgs[0]
		}
		n = min(n, st.NCtx-*depth)
		// Without generation (-n 0) but with a prompt, the prompt's pass is
		// profiled instead.
		what, run := "generated tokens", generate
		if len(tgs) == 0 && len(pps) > 0 {
			n, what = min(pps[0], st.NCtx-*depth), "prompt tokens (one pass)"
			run = func(ids []int32) error {
				_, err := st.Forward(ids, false)
				return err
			}
		}
		if err := prefill(); err != nil {
			return err
		}
		if kp, ok := l.be.(compute.KernelProfiler); ok {
			if err := kp.ProfileKernels(true); err != nil {
				return err
			}
			t0 := time.Now()
			err := run(randomTokens(n))
			wall := time.Since(t0)
			if e := kp.ProfileKernels(false); err == nil {
				err = e
			}
			if err != nil {
				return err
			}
			var dev deviceYardsticks
			if c, ok := l.be.(interface{ CopyBandwidth() (float64, error) }); ok {
				if dev.copyBW, err = c.CopyBandwidth(); err != nil {
					slog.Warn("copy bandwidth", "err", err)
				}
			}
			if c, ok := l.be.(interface {
				DispatchLatency() (float64, float64, error)
			}); ok {
				if dev.dispEmpty, dev.dispLoad, err = c.DispatchLatency(); err != nil {
					slog.Warn("dispatch latency", "err", err)
				}
			}
			if c, ok := l.be.(interface{ ChainLatency() (float64, error) }); ok {
				if dev.dispChain, err = c.ChainLatency(); err != nil {
					slog.Warn("chained dispatch latency", "err", err)
				}
			}
			if c, ok := l.be.(interface {
				LayerPhases() (compute.PhaseTimes, error)
			}); ok {
				if pt, err := c.LayerPhases(); err != nil {
					slog.Warn("layer phases", "err", err)
				} else {
					dev.phases = &pt
				}
			}
			printKernelTimes(stderr, kp.KernelTimes(), n, what, wall, dev)
		} else {
			mf.profile.On = true
			t0 := time.Now()
			err := run(randomTokens(n))
			wall := time.Since(t0)
			mf.profile.On = false
			if err != nil {
				return err
			}
			printOpTimes(stderr, mf.profile.Stats(), n, what, wall)
		}
	}
	if tl, ok := l.be.(compute.Timeliner); ok {
		t, err := tl.Timeline()
		if err != nil {
			return err
		}
		if t != nil {
			printTimeline(stderr, t)
		}
	}
	probe()
	if ps, ok := l.be.(compute.PipelineStatistician); ok {
		stats, err := ps.PipelineStatistics()
		if err != nil {
			return err
		}
		printPipelineStats(stderr, stats)
	}
	if c, ok := l.be.(interface{ ChainCheck() error }); ok {
		if err := c.ChainCheck(); err != nil {
			return err
		}
	}
	if rep.StreamGBps > 0 {
		fmt.Fprintf(stderr, "streaming read: best probe %.1f GB/s on %d threads; each generation repetition is compared with the probe just before it\n", rep.StreamGBps, rep.Threads)
	}
	switch {
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case *asMD:
		fmt.Fprintf(stdout, "| model | size | params | backend | device | threads | lm head | test | t/s | GB/s | %% of stream |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rep.Results {
			gb, pct := "", ""
			if r.GBPerSecond > 0 {
				gb = fmt.Sprintf("%.1f", r.GBPerSecond)
			}
			if r.BoundPercent > 0 {
				pct = fmt.Sprintf("%.0f%%", r.BoundPercent)
			}
			fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s | %d | %s | %s | %.2f ± %.2f | %s | %s |\n",
				rep.Arch, siUnits(float64(rep.ModelBytes), "B"), siUnits(float64(rep.Params), ""), rep.Backend, rep.Device, rep.Threads,
				rep.LMHead, r.Test, r.TPSMean, r.TPSStddev, gb, pct)
		}
	default:
		fmt.Fprintf(stdout, "model %s (%s, %s, %s params), %s on %s\n", rep.Model, rep.Arch,
			siUnits(float64(rep.ModelBytes), "B"), siUnits(float64(rep.Params), ""), rep.Backend, rep.Device)
		if rep.Kernels != "" {
			fmt.Fprintf(stdout, "kernels: %s\n", rep.Kernels)
		}
		fmt.Fprintf(stdout, "bytes read per generated token: %.3f GB (LM head %s: %.3f GB)", float64(rep.BytesPerToken)/1e9, rep.LMHead, float64(rep.HeadBytes)/1e9)
		if rep.StreamGBps > 0 {
			fmt.Fprintf(stdout, "; streaming read %.1f GB/s, so at most %.1f tokens/s", rep.StreamGBps, rep.StreamGBps*1e9/float64(rep.BytesPerToken))
		}
		fmt.Fprintln(stdout)
		for _, r := range rep.Results {
			fmt.Fprintf(stdout, "%-8s %10.2f ± %6.2f %s", r.Test, r.TPSMean, r.TPSStddev, r.unit())
			if r.GBPerSecond > 0 {
				fmt.Fprintf(stdout, "   %6.1f GB/s", r.GBPerSecond)
			}
			if r.BoundPercent > 0 {
				fmt.Fprintf(stdout, "   %5.1f%% of the bandwidth bound", r.BoundPercent)
			}
			if r.ScreenBytesPerToken > 0 {
				fmt.Fprintf(stdout, "   (screened head: %.3f GB per token)", float64(r.ScreenBytesPerToken)/1e9)
			}
			if r.CacheBytesPerToken > 0 {
				fmt.Fprintf(stdout, "   (KV cache: %.3f GB per token)", float64(r.CacheBytesPerToken)/1e9)
			}
			fmt.Fprintln(stdout)
		}
	}
	return nil
}

// printOpTimes prints the time per token of each op kind of a profiled
// generation run of tokens passes.
func printOpTimes(w io.Writer, stats []compute.OpStat, tokens int, what string, wall time.Duration) {
	per := func(d time.Duration) float64 { return d.Seconds() * 1e3 / float64(tokens) }
	var sum time.Duration
	fmt.Fprintf(w, "op times over %d %s (ms per token):\n", tokens, what)
	for _, s := range stats {
		sum += s.Time
		fmt.Fprintf(w, "  %-26s %8.3f ms  %5.1f%%  %6.1f calls", s.Op, per(s.Time), 100*s.Time.Seconds()/wall.Seconds(), float64(s.Calls)/float64(tokens))
		if s.Bytes > 0 {
			fmt.Fprintf(w, "  %6.1f GB/s", float64(s.Bytes)/s.Time.Seconds()/1e9)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  %-26s %8.3f ms  %5.1f%%\n", "outside ops", per(wall-sum), 100*(wall-sum).Seconds()/wall.Seconds())
	fmt.Fprintf(w, "  %-26s %8.3f ms\n", "total", per(wall))
}

// deviceYardsticks are what a kernel's time is judged against: the copy
// kernel's bandwidth (bytes per second, read plus written) and the time of
// a dependent dispatch that does nothing and of one that loads and stores
// 16 bytes (seconds); 0 where not measured.
type deviceYardsticks struct {
	copyBW, dispEmpty, dispLoad, dispChain float64
	phases                                 *compute.PhaseTimes // nil where not measured
}

// printKernelTimes prints the device time per token of each kernel of a
// profiled generation run of tokens passes.
func printKernelTimes(w io.Writer, ks []compute.KernelTime, tokens int, what string, wall time.Duration, dev deviceYardsticks) {
	per := func(d time.Duration) float64 { return d.Seconds() * 1e6 / float64(tokens) }
	var sum time.Duration
	fmt.Fprintf(w, "kernel times over %d %s (device timestamps, µs per token; each dispatch timed with its barrier):\n", tokens, what)
	if dev.copyBW > 0 {
		fmt.Fprintf(w, "  device copy bandwidth: %.1f GB/s (bytes read plus written by a copy kernel over up to 1 GiB)\n", dev.copyBW/1e9)
	}
	if dev.dispEmpty > 0 {
		fmt.Fprintf(w, "  dependent dispatch: %.1f µs doing nothing, %.1f µs with one 16-byte load and store (chains of 256 behind barriers)\n", dev.dispEmpty*1e6, dev.dispLoad*1e6)
	}
	if dev.dispChain > 0 {
		fmt.Fprintf(w, "  chained dependent dispatch: %.1f µs with one 16-byte load and store (a chain of 256 waiting on counters, no barriers: BITNET_VK_CHAIN)\n", dev.dispChain*1e6)
	}
	if pt := dev.phases; pt != nil {
		gbs := func(d time.Duration) float64 { return float64(pt.LayerBytes) / d.Seconds() / 1e9 }
		layers := fmt.Sprintf("%d layers", pt.Layers)
		if pt.Layers == 1 {
			layers = "1 layer"
		}
		fmt.Fprintf(w, "  a layer's matvecs as dependent phases (2B-4T widths, %.1f MB of weights, %s, workgroups of %d): %.1f µs per layer (%.1f GB/s) as a dispatch per matvec behind barriers; in one persistent dispatch",
			float64(pt.LayerBytes)/1e6, layers, pt.Workgroup, pt.Dispatched.Seconds()*1e6, gbs(pt.Dispatched))
		for i, p := range pt.Persistent {
			sep := ","
			if i == 0 {
				sep = ":"
			}
			fmt.Fprintf(w, "%s %.1f µs (%.1f GB/s) with %d workgroups", sep, p.PerLayer.Seconds()*1e6, gbs(p.PerLayer), p.Workgroups)
		}
		fmt.Fprintln(w)
	}
	for _, k := range ks {
		sum += k.Time
		fmt.Fprintf(w, "  %-56s %9.1f µs  %6.1f calls", k.Label, per(k.Time), float64(k.Calls)/float64(tokens))
		if k.Bytes > 0 && k.Time > 0 {
			bw := float64(k.Bytes) / k.Time.Seconds()
			fmt.Fprintf(w, "  %7.1f GB/s", bw/1e9)
			if dev.copyBW > 0 {
				fmt.Fprintf(w, " (%3.0f%% of copy)", 100*bw/dev.copyBW)
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  %-56s %9.1f µs\n", "device total", per(sum))
	fmt.Fprintf(w, "  %-56s %9.1f µs (profiled steps are recorded every token, not replayed)\n", "wall", per(wall))
}

// printTimeline prints where the last step's device time went, kernel by
// kernel (each label's calls averaged), from the device clock.
func printTimeline(w io.Writer, tl *compute.Timeline) {
	type agg struct {
		label                                 string
		calls, wgs, timed                     int
		gap, wait, prologue, body, ramp, span time.Duration
	}
	var order []*agg
	by := map[string]*agg{}
	var spans, gaps time.Duration
	for _, d := range tl.Dispatches {
		a := by[d.Label]
		if a == nil {
			a = &agg{label: d.Label, wgs: d.Workgroups, timed: d.Timed}
			by[d.Label] = a
			order = append(order, a)
		}
		a.calls++
		a.gap += d.Gap
		a.wait += d.Wait
		a.prologue += d.Prologue
		a.body += d.Body
		a.ramp += d.Ramp
		a.span += d.Span
		spans += d.Span
		gaps += d.Gap
	}
	us := func(d time.Duration, n int) float64 { return d.Seconds() * 1e6 / float64(n) }
	fmt.Fprintf(w, "timeline of the last step (device clock at %.4f ticks per ns, BITNET_VK_TIMELINE): %d timed dispatches over %.1f µs; their spans add up to %.1f µs, the gaps between them to %.1f µs\n",
		tl.ClockRate, len(tl.Dispatches), us(tl.Span, 1), us(spans, 1), us(gaps, 1))
	fmt.Fprintf(w, "  µs per call: the gap before it starts (negative: overlap); a workgroup's wait, prologue (a matvec's norm, attn_split's scores and softmax) and body (medians); the dispatch's ramp (first to last workgroup start) and span\n")
	fmt.Fprintf(w, "  %-56s %5s %5s %8s %8s %8s %8s %8s %8s\n", "kernel", "calls", "wgs", "gap", "wait", "prologue", "body", "ramp", "span")
	partly := 0 // the workgroups timed of a dispatch timed in part
	for _, a := range order {
		wgs := fmt.Sprint(a.wgs)
		if a.timed < a.wgs {
			wgs, partly = wgs+"*", a.timed
		}
		fmt.Fprintf(w, "  %-56s %5d %5s %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f\n", a.label, a.calls, wgs,
			us(a.gap, a.calls), us(a.wait, a.calls), us(a.prologue, a.calls), us(a.body, a.calls), us(a.ramp, a.calls), us(a.span, a.calls))
	}
	if partly > 0 {
		fmt.Fprintf(w, "  *: only the first %d workgroups of a dispatch are timed; its ramp and span are theirs\n", partly)
	}
}

// siUnits formats v with a decimal prefix: "1.18 GB", "355.6 kB", "2.41 G".
func siUnits(v float64, unit string) string {
	for _, p := range []struct {
		f float64
		s string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= p.f {
			return fmt.Sprintf("%.2f %s%s", v/p.f, p.s, unit)
		}
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

func meanStd(v []float64) (mean, std float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) > 1 {
		for _, x := range v {
			std += (x - mean) * (x - mean)
		}
		std = math.Sqrt(std / float64(len(v)-1))
	}
	return mean, std
}

func threadsOf(l *loaded) int {
	if t, ok := l.be.(interface{ Threads() int }); ok {
		return t.Threads()
	}
	return 0
}

// streamBytes is the size of the bandwidth probe's buffer, far larger than
// the caches.
const streamBytes = 1 << 30

// streamBandwidth measures the streaming read bandwidth of threads
// goroutines over buf, whose pages are already faulted in (best of probes
// passes, GB/s).
func streamBandwidth(buf []byte, threads, probes int) float64 {
	size := len(buf)
	best := 0.0
	for range probes {
		var wg sync.WaitGroup
		per := size / threads
		t0 := time.Now()
		for i := range threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				kernels.StreamSum(buf[i*per : (i+1)*per])
			}()
		}
		wg.Wait()
		best = max(best, float64(size)/time.Since(t0).Seconds()/1e9)
	}
	return best
}

// printPipelineStats prints what the driver reported about each kernel the
// run built (BITNET_VK_PIPELINE_STATS=1), one line per pipeline; nothing
// without statistics.
func printPipelineStats(w io.Writer, stats []compute.PipelineStats) {
	if len(stats) == 0 {
		return
	}
	fmt.Fprintf(w, "pipeline statistics (the driver's, per kernel and specialization constants):\n")
	for _, p := range stats {
		parts := make([]string, len(p.Stats))
		for i, s := range p.Stats {
			parts[i] = fmt.Sprintf("%s %g", s.Name, s.Value)
		}
		fmt.Fprintf(w, "  %s: %s\n", p.Kernel, strings.Join(parts, ", "))
	}
}

// cacheBytesPerToken returns the bytes of the KV cache (of type kv) that a
// generated token's attention reads, averaged over n tokens generated
// after depth: token i attends to depth+i+1 positions, each a K and a V
// row of NHeadKV*HeadDim elements in every layer.
func cacheBytesPerToken(c engine.Config, kv gguf.DType, depth, n int) int64 {
	if n <= 0 {
		return 0
	}
	row, err := kv.ByteSize(int64(2 * c.NLayer * c.NHeadKV * c.HeadDim))
	if err != nil {
		return 0
	}
	positions := int64(n)*int64(depth) + int64(n)*int64(n+1)/2 // sum over i < n of depth+i+1
	return row * positions / int64(n)
}

// benchParallel times tests tgNxP: np states of l's model joined to one
// engine.Batcher, each prefilled with prefix and then generating n tokens
// greedily from a random token at the same time as the others, for each n
// of tgs; a test's tokens are all the sequences' (n*np).
func benchParallel(l *loaded, mf modelFlags, np int, tgs []int, prefix []int32, randomTokens func(int) []int32,
	measure func(string, int, bool, func() error, func() error) (benchResult, error), stderr io.Writer) ([]benchResult, error) {
	b, err := l.model.NewBatcher(np)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	states := make([]*engine.State, np)
	for i := range states {
		if states[i], err = l.model.NewState(l.state.NCtx, mf.batch, mf.kvDType()); err != nil {
			return nil, err
		}
		defer states[i].Close()
		if err := b.Join(states[i]); err != nil {
			return nil, err
		}
	}
	setup := func() error {
		for _, st := range states {
			st.Reset()
			if len(prefix) > 0 {
				if _, err := st.Forward(prefix, false); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var out []benchResult
	for _, n := range tgs {
		if n == 0 {
			continue
		}
		starts := randomTokens(np)
		s0 := b.Stats()
		name := fmt.Sprintf("tg%dx%d", n, np)
		r, err := measure(name, n*np, false, setup, func() error {
			errs := make([]error, np)
			var wg sync.WaitGroup
			for i, st := range states {
				wg.Go(func() {
					_, _, errs[i] = st.Generate(starts[i:i+1], engine.GenerateOptions{MaxNewTokens: n})
				})
			}
			wg.Wait()
			return errors.Join(errs...)
		})
		if err != nil {
			return nil, err
		}
		s := b.Stats()
		if steps := s.Steps - s0.Steps; steps > 0 {
			fmt.Fprintf(stderr, "%s: %.2f sequences per step, %.2f steps/s\n", name, float64(s.Rows-s0.Rows)/float64(steps), r.TPSMean/(float64(s.Rows-s0.Rows)/float64(steps)))
		}
		out = append(out, r)
	}
	return out, nil
}
