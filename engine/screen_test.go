package engine_test

import (
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bitnet/cpu"
	"bitnet/engine"
	"bitnet/engine/compute"
	"bitnet/gguf"
	"bitnet/internal/modelgen"
	"bitnet/internal/testdata"
)

func TestParseScreenMode(t *testing.T) {
	for s, want := range map[string]engine.ScreenMode{"auto": engine.ScreenAuto, " ON": engine.ScreenOn, "off": engine.ScreenOff} {
		m, err := engine.ParseScreenMode(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, m, s)
	}
	_, err := engine.ParseScreenMode("yes")
	assert.ErrorContains(t, err, `head screening "yes": want auto, on, off`)
	assert.Equal(t, "on", engine.ScreenOn.String())
}

// screenedModel loads path on its own CPU backend with head screening
// mode and returns a state, the backend and the vocabulary's size.
func screenedModel(t *testing.T, path string, mode engine.ScreenMode) (*engine.State, *cpu.Backend, int) {
	t.Helper()
	m, st, be := loadWith(t, path, engine.LoadOptions{ScreenHead: mode})
	return st, be, m.Config.NVocab
}

// TestScreenedHeadSameTokens checks that screening the LM head changes no
// candidate and no token on three real heads (F16 rows of 128 and 256, F32
// rows of 64) and a generated llama with F16 weights (whose head takes its
// input rounded to F16): the 40 best candidates of every step of a forced sequence,
// bit for bit, greedy text (with and without run-ahead) and sampled text
// for a seed, with and without a repetition penalty; that the screen
// computed well under half the rows exactly; and that full logits and the
// automatic mode on heads this small run the full head.
func TestScreenedHeadSameTokens(t *testing.T) {
	llamaF16 := filepath.Join(t.TempDir(), "llama-f16.gguf")
	require.NoError(t, modelgen.GenerateFile(llamaF16, modelgen.Options{Arch: "llama", WeightType: "f16"}))
	for _, path := range []string{storiesModel, testdata.Path(t, "models/stories260K.gguf"), testdata.Path(t, "golden/tiny-i2_s.gguf"), llamaF16} {
		t.Run(path, func(t *testing.T) {
			full, fullBE, vocab := screenedModel(t, path, engine.ScreenOff)
			scr, be, _ := screenedModel(t, path, engine.ScreenOn)

			// The 40 best of every step of a forced sequence.
			ids := []int32{1}
			for i := range 60 {
				ids = append(ids, int32((i*7919+13)%vocab))
			}
			sel := engine.Selection{K: 40, Penalty: 1}
			for i, id := range ids {
				want, err := full.Next([]int32{id}, sel, nil)
				require.NoError(t, err)
				want = append(want[:0:0], want...)
				got, err := scr.Next([]int32{id}, sel, nil)
				require.NoError(t, err)
				require.Equal(t, len(want), len(got))
				for j := range want {
					require.Equal(t, want[j].ID, got[j].ID, "step %d candidate %d", i, j)
					require.Equal(t, math.Float32bits(want[j].Logit), math.Float32bits(got[j].Logit), "step %d candidate %d", i, j)
				}
			}
			calls, rows := be.ScreenStats()
			require.Equal(t, int64(len(ids)), calls)
			assert.Less(t, float64(rows)/float64(calls), float64(vocab)/2, "rows computed exactly per step")
			t.Logf("k 40: %.1f of %d rows computed exactly per step", float64(rows)/float64(calls), vocab)

			// Greedy and sampled text.
			prompt := []int32{1, int32(vocab / 3), int32(vocab / 5)}
			for _, c := range screenRuns {
				full.Reset()
				scr.Reset()
				want, _, err := full.Generate(prompt, c.options(120))
				require.NoError(t, err)
				got, _, err := scr.Generate(prompt, c.options(120))
				require.NoError(t, err)
				assert.Equal(t, want, got, "%+v", c)
			}
			c1, r1 := be.ScreenStats()
			assert.Greater(t, c1, calls+3*100)
			t.Logf("generations: %.1f of %d rows computed exactly per step", float64(r1-rows)/float64(c1-calls), vocab)

			// Full logits run the full head.
			scr.Reset()
			lg, err := scr.Forward([]int32{1, 5}, false)
			require.NoError(t, err)
			for i, v := range lg {
				require.False(t, math.IsInf(float64(v), -1), "logit %d", i)
			}
			c2, _ := be.ScreenStats()
			assert.Equal(t, c1, c2)
			c0, _ := fullBE.ScreenStats()
			assert.Zero(t, c0)

			// Automatic: these heads are below the size that pays.
			auto, autoBE, _ := screenedModel(t, path, engine.ScreenAuto)
			_, _, err = auto.Generate(prompt, engine.GenerateOptions{MaxNewTokens: 4})
			require.NoError(t, err)
			c3, _ := autoBE.ScreenStats()
			assert.Zero(t, c3)
		})
	}
}

// screenRuns are the generations the screening tests compare: greedy, one
// step at a time and in bursts of 8, sampled with top-k, and greedy and
// sampled with a repetition penalty.
var screenRuns = []screenRun{
	{},
	{runAhead: 8},
	{p: engine.SamplerParams{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, Seed: 11}},
	{p: engine.SamplerParams{RepeatPenalty: 1.5, RepeatLastN: 16}},
	{p: engine.SamplerParams{Temperature: 0.8, TopK: 40, RepeatPenalty: 1.3, RepeatLastN: 32, Seed: 12}},
}

type screenRun struct {
	p        engine.SamplerParams
	runAhead int
}

// options returns the run's options for n new tokens, with a new sampler.
func (c screenRun) options(n int) engine.GenerateOptions {
	return engine.GenerateOptions{MaxNewTokens: n, RunAhead: c.runAhead, Sampler: engine.NewSampler(c.p)}
}

// noRoomForScreen is a CPU backend whose memory cannot take the head's
// screen.
type noRoomForScreen struct{ *cpu.Backend }

func (b noRoomForScreen) Weights(info gguf.TensorInfo, raw []byte) (compute.Tensor, error) {
	if info.Name == "output.weight.screen" {
		return nil, errors.New("out of device memory")
	}
	return b.Backend.Weights(info, raw)
}

// TestScreenNotMade: where the screen cannot be made, decoding runs the
// full head and gives its tokens.
func TestScreenNotMade(t *testing.T) {
	_, full, _ := loadWith(t, storiesModel, engine.LoadOptions{ScreenHead: engine.ScreenOff})
	f, err := gguf.Open(storiesModel)
	require.NoError(t, err)
	defer f.Close()
	be := noRoomForScreen{cpu.New(cpu.Options{Threads: 2})}
	defer be.Close()
	m, err := engine.LoadWith(f, be, engine.LoadOptions{ScreenHead: engine.ScreenOn})
	require.NoError(t, err)
	st, err := m.NewState(512, 64, gguf.F16)
	require.NoError(t, err)
	defer st.Close()
	want, _, err := full.Generate([]int32{1, 403}, engine.GenerateOptions{MaxNewTokens: 40})
	require.NoError(t, err)
	got, _, err := st.Generate([]int32{1, 403}, engine.GenerateOptions{MaxNewTokens: 40})
	require.NoError(t, err)
	assert.Equal(t, want, got)
	calls, _ := be.ScreenStats()
	assert.Zero(t, calls)
	assert.Zero(t, m.ScreenBytes())
}
