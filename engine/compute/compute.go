// Package compute is the contract between the engine and its backends.
//
// The engine owns the model: which ops run, in what order, with which
// parameters (eps, RoPE theta, attention scale, activation). A backend only
// runs ops. Calls are destination first and look eager: the CPU backend runs
// each op when it is called; a GPU backend may record work and submit it at
// Flush or Read.
//
// Shapes follow ggml order: Shape()[0] is the contiguous dimension. An
// activation tensor of shape [n, rows] holds rows vectors of n float32 values,
// one row per token. A weight of shape [K, N] maps K inputs to N outputs.
//
// Wrong shapes or types passed to an op are programming errors and panic with
// a message naming the op; device and I/O failures are returned as errors.
package compute

import (
	"errors"
	"fmt"
	"math"

	"bitnet/gguf"
)

// Tensor is a backend-owned tensor: activations (F32), KV cache (F16 or F32)
// or weights (any supported gguf type).
type Tensor interface {
	DType() gguf.DType
	// Shape in ggml order (Shape()[0] contiguous). Do not modify.
	Shape() []int
}

// Activation selects the gating function of ActMul.
type Activation int

const (
	// ReLU2 is relu(gate)^2 * up (bitnet-b1.58).
	ReLU2 Activation = iota
	// SiLU is gate*sigmoid(gate) * up (llama, bitnet).
	SiLU
)

func (a Activation) String() string {
	switch a {
	case ReLU2:
		return "relu2"
	case SiLU:
		return "silu"
	}
	return fmt.Sprintf("activation(%d)", int(a))
}

// RoPEParams describes a rotary position embedding applied per head.
type RoPEParams struct {
	HeadDim int     // elements per head; a row holds Shape()[0]/HeadDim heads
	Dims    int     // rotated dimensions per head (<= HeadDim); the rest pass through
	Theta   float32 // frequency base
	// NeoX rotates pairs (i, i+Dims/2) (bitnet-b1.58, NeoX style); otherwise
	// adjacent pairs (2i, 2i+1) as llama.cpp's normal mode.
	NeoX bool
}

// AttnParams describes causal multi-head attention with grouped KV heads.
type AttnParams struct {
	NHead   int     // query heads
	NKVHead int     // key/value heads; query head h uses KV head h / (NHead/NKVHead)
	HeadDim int     // elements per head
	Scale   float32 // multiplies Q.K^T (1/sqrt(HeadDim))
}

// Candidate is one entry of a TopK result: a token id and its logit.
type Candidate struct {
	ID    int32
	Logit float32
}

// MaxTopK is the largest k a backend's TopK must support.
const MaxTopK = 256

// Backend runs the ops of the forward pass.
//
// Values that change from one step to the next (token ids, positions, the
// repetition-penalty window) are I32 tensors written with WriteInts, never op
// arguments: the ops of a decode step are then the same for every token, and
// a backend may capture them once and replay them (see Replayer). Positions
// of the rows of one step are consecutive: pos[i] = pos[0] + i.
//
// Numerics every backend must follow (see docs and the CPU reference):
//   - MatMul with ternary weights (I2_S) quantizes each row of x to int8 with
//     m = max(max|x|, 1e-5), s = 127/m, q = clamp(roundHalfEven(x*s), -128, 127)
//     (float32 product), sums code*q exactly in integers, and finishes in
//     float32: (dot - sum(q)) / s * scale. TQ1_0/TQ2_0 quantize x per 256-block
//     as ggml's Q8_K. Float weights (F32, F16, BF16, Q8_0) are dotted with the
//     float32 x, float32 accumulation. MatMul never rounds x itself: where
//     the model's numerics round the activations to F16 before an F16-weight
//     product (llama, as llama.cpp converts them to its F16 dot type), the
//     engine issues RoundF16 on x first.
//   - RoundF16 rounds to nearest even, as StoreKV's F16.
//   - RMSNorm accumulates the sum of squares in float64 (CPU) or two-float
//     arithmetic (GPU): y = x / sqrt(mean(x^2) + eps) * w. The order of the
//     sum differs between backends, so results may differ in the last bit.
//   - StoreKV rounds to the cache type (F16: round to nearest even).
//   - Attention rounds Q to the cache type before Q.K^T, accumulates in
//     float32, applies Scale and the causal mask, and takes a float32 softmax
//     with the row maximum subtracted first; probabilities stay float32.
type Backend interface {
	// Name is "cpu" or "vulkan"; Device describes the device in use.
	Name() string
	Device() string

	// Alloc returns a zeroed tensor of type F32, F16 (KV cache only) or I32
	// (token ids, positions, TopK results) with the given shape (ggml order).
	// It fails when the device is out of memory.
	Alloc(dt gguf.DType, shape ...int) (Tensor, error)
	// Free releases a tensor made by Alloc once the work queued so far no
	// longer needs it; the tensor and its views must not be used afterwards.
	Free(t Tensor)
	// Rows returns a view of rows [row0, row0+n) of a tensor of shape [k, rows].
	Rows(t Tensor, row0, n int) Tensor
	// Weights wraps the raw bytes of a model tensor (no conversion of the
	// file data; a backend may copy to device memory).
	Weights(info gguf.TensorInfo, raw []byte) (Tensor, error)

	// Write copies float32 values into an F32 tensor (tests, inputs).
	Write(dst Tensor, src []float32) error
	// WriteInts copies int32 values into an I32 tensor, after the work queued
	// so far.
	WriteInts(dst Tensor, src []int32) error
	// Read waits for queued work and copies an F32 or F16 tensor out as float32.
	Read(src Tensor, dst []float32) error
	// ReadInts waits for queued work and copies an I32 tensor out.
	ReadInts(src Tensor, dst []int32) error
	// Flush submits queued work and waits for it.
	Flush() error
	Close() error

	// Embed: dst[:, i] = float32(table row ids[i]); table [n_embd, n_vocab],
	// ids I32 [T]. Ids outside the table give rows of zeros.
	Embed(dst, table, ids Tensor)
	// RMSNorm: dst = x / sqrt(mean(x^2)+eps) * w, per row; w is F32 [n].
	RMSNorm(dst, x, w Tensor, eps float32)
	// MatMul: dst [N, T] = w [K, N] applied to each row of x [K, T].
	MatMul(dst, w, x Tensor)
	// Scale: dst = x * s elementwise.
	Scale(dst, x Tensor, s float32)
	// RoPE rotates each head of each row of x; row i is at position pos[i]
	// (pos I32 [T]). table is RoPETable of positions 0..n-1 as an F32 tensor
	// [Dims, n]: every backend rotates with these values. dst may be x.
	RoPE(dst, x, pos, table Tensor, p RoPEParams)
	// StoreKV writes row i of x [NKVHead*HeadDim, T] into row pos[i] of
	// cache [NKVHead*HeadDim, nCtx], rounding to the cache type.
	StoreKV(cache, x, pos Tensor)
	// Attention: for each row i of q [NHead*HeadDim, T], at position pos[i],
	// softmax over cache positions 0..pos[i] of K, weighted sum of V; dst has
	// q's shape.
	Attention(dst, q, k, v, pos Tensor, p AttnParams)
	// RoundF16: dst = x rounded to the nearest F16 value (ties to even),
	// stored as float32, elementwise. dst may be x.
	RoundF16(dst, x Tensor)
	// ActMul: dst = act(gate) * up elementwise.
	ActMul(dst, gate, up Tensor, act Activation)
	// Add: dst = a + b elementwise. dst may alias a or b.
	Add(dst, a, b Tensor)

	// Penalize applies the repetition penalty to the logits [n, 1] at the ids
	// listed in ids (I32; negative entries are padding, no id is listed
	// twice): a positive logit is divided by penalty, another multiplied by
	// it (float32, correctly rounded).
	Penalize(logits, ids Tensor, penalty float32)
	// TopK writes the k largest logits of logits [n, 1] to dst (I32 [k, 2]):
	// row 0 the ids, row 1 the float32 bits of the logits, in the order of
	// Candidate.Less (larger logit first, then smaller id). 1 <= k <=
	// min(n, MaxTopK).
	TopK(dst, logits Tensor, k int)
}

// Replayer is implemented by backends that can capture the ops of a step and
// replay them without issuing them again (the Vulkan backend records one
// command buffer). The engine captures a decode step once and replays it for
// every token, writing only its I32 inputs in between.
type Replayer interface {
	// Capture calls fn, which issues ops (no Read, Write or Flush), and
	// returns them as a Program without running them. When an op cannot be
	// replayed the error wraps ErrNotCapturable, and the caller issues the
	// ops directly; any other error (the device failed) is the step's.
	Capture(fn func()) (Program, error)
}

// Advancer is implemented by replaying backends that can chain greedy
// decode steps on the device (the Vulkan backend). The engine captures
// several steps, each ending with Advance, as one program: one submission
// and one read for all of their tokens instead of a host round trip per
// token.
type Advancer interface {
	// Advance ends a greedy decode step: with best the step's TopK result
	// (I32 [k, 2], k >= 1) and ids, pos the step's I32 [1, 1] token and
	// position, it stores best's first id in picks[pos[0] mod n] (picks
	// I32 [n]), then makes it the next step's token (ids[0]) at the next
	// position (pos[0]+1).
	Advance(ids, pos, best, picks Tensor)
}

// ErrNotCapturable is wrapped by Capture's error when an op of the step
// cannot be replayed (it needs the host).
var ErrNotCapturable = errors.New("not capturable")

// Program is a captured sequence of ops.
type Program interface {
	// Run executes the ops again on the current contents of their tensors
	// and waits for them; results are then readable with Read and ReadInts.
	Run() error
	// Release frees the program.
	Release()
}

// Less orders candidates as TopK does: larger logit first, then smaller id.
func (a Candidate) Less(b Candidate) bool {
	if a.Logit != b.Logit {
		return a.Logit > b.Logit
	}
	return a.ID < b.ID
}

// MultiMatMuler is implemented by backends that run several matmuls over
// one input as one operation (on the CPU: one activation quantization and
// one pass of the workers over all the weight rows). MatMuls(dst, w, x) gives
// what MatMul(dst[i], w[i], x) gives for each i; len(dst) == len(w).
type MultiMatMuler interface {
	MatMuls(dst, w []Tensor, x Tensor)
}

// HeadDimLimiter is implemented by backends whose attention supports heads
// of at most MaxHeadDim elements; the engine checks it before running.
type HeadDimLimiter interface {
	MaxHeadDim() int
}

// Elements returns the product of a shape.
func Elements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// RowsOf returns the row length and row count of a tensor viewed as [k, rows].
func RowsOf(t Tensor) (k, rows int) {
	s := t.Shape()
	if len(s) == 0 {
		return 0, 0
	}
	return s[0], Elements(s) / s[0]
}

// RoPETable returns cos and sin of every rotation angle of positions
// 0..n-1, interleaved: [n][Dims/2][2], with angle = pos * Theta^(-2j/Dims)
// computed in float64 and rounded to float32. Every backend rotates with
// these values (the engine hands them to RoPE as a tensor [Dims, n]).
func RoPETable(n int, p RoPEParams) []float32 {
	half := p.Dims / 2
	out := make([]float32, n*half*2)
	inv := make([]float64, half)
	for j := range inv {
		inv[j] = math.Pow(float64(p.Theta), -2*float64(j)/float64(p.Dims))
	}
	for ps := 0; ps < n; ps++ {
		for j := 0; j < half; j++ {
			s, c := math.Sincos(float64(ps) * inv[j])
			out[(ps*half+j)*2] = float32(c)
			out[(ps*half+j)*2+1] = float32(s)
		}
	}
	return out
}
