package compute

import (
	"fmt"

	"bitnet/gguf"
)

// The Check functions validate the arguments of one op, the same way for
// every backend, and panic with a message naming the op (wrong shapes or
// types are programming errors of the caller). They return the sizes the
// op needs.

func shapeErr(op, format string, args ...any) {
	panic(fmt.Sprintf("%s: %s", op, fmt.Sprintf(format, args...)))
}

// CheckSame checks that every tensor is F32 with the same element count and
// returns it.
func CheckSame(op string, ts ...Tensor) int {
	n := Elements(ts[0].Shape())
	for _, t := range ts {
		if t.DType() != gguf.F32 || Elements(t.Shape()) != n {
			shapeErr(op, "operands must be F32 tensors of one size: %v (%s) vs %v (%s)", ts[0].Shape(), ts[0].DType(), t.Shape(), t.DType())
		}
	}
	return n
}

// CheckInts checks that t is an I32 tensor of n elements (n < 0: any).
func CheckInts(op, what string, t Tensor, n int) int {
	e := Elements(t.Shape())
	if t.DType() != gguf.I32 || (n >= 0 && e != n) {
		shapeErr(op, "%s must be an I32 tensor of %d elements, not %v %s", what, n, t.Shape(), t.DType())
	}
	return e
}

// CheckEmbed checks dst [k, T], table [k, vocab], ids I32 [T] and returns
// k, T and the vocabulary size.
func CheckEmbed(dst, table, ids Tensor) (k, rows, vocab int) {
	k, rows = RowsOf(dst)
	tk, tn := RowsOf(table)
	if dst.DType() != gguf.F32 || k != tk {
		shapeErr("Embed", "dst %v (%s) from table %v", dst.Shape(), dst.DType(), table.Shape())
	}
	CheckInts("Embed", "ids", ids, rows)
	return k, rows, tn
}

// CheckRMSNorm checks x and dst of one F32 shape [k, rows] and w F32 [k].
func CheckRMSNorm(dst, x, w Tensor) (k, rows int) {
	CheckSame("RMSNorm", dst, x)
	k, rows = RowsOf(x)
	if w.DType() != gguf.F32 || Elements(w.Shape()) != k {
		shapeErr("RMSNorm", "weight %v %s for rows of %d", w.Shape(), w.DType(), k)
	}
	return k, rows
}

// CheckMatMul checks dst F32 [N, T] = w [K, N] x F32 [K, T].
func CheckMatMul(dst, w, x Tensor) (K, N, T int) {
	ws := w.Shape()
	if len(ws) == 0 {
		shapeErr("MatMul", "weight without a shape")
	}
	K, N = ws[0], Elements(ws)/ws[0]
	xk, xt := RowsOf(x)
	dk, dt := RowsOf(dst)
	if xk != K || dk != N || dt != xt || x.DType() != gguf.F32 || dst.DType() != gguf.F32 {
		shapeErr("MatMul", "dst %v (%s) = w %v (%s) x %v (%s)", dst.Shape(), dst.DType(), ws, w.DType(), x.Shape(), x.DType())
	}
	return K, N, xt
}

// CheckRoPE checks dst and x F32 [heads*HeadDim, T], pos I32 [T], table F32
// [Dims, n] and the parameters; it returns the row length, T and n.
func CheckRoPE(dst, x, pos, table Tensor, p RoPEParams) (k, rows, n int) {
	CheckSame("RoPE", dst, x)
	k, rows = RowsOf(x)
	if p.HeadDim <= 0 || k%p.HeadDim != 0 || p.Dims <= 0 || p.Dims > p.HeadDim || p.Dims%2 != 0 {
		shapeErr("RoPE", "rows of %d with %+v", k, p)
	}
	CheckInts("RoPE", "pos", pos, rows)
	tk, tn := RowsOf(table)
	if table.DType() != gguf.F32 || tk != p.Dims {
		shapeErr("RoPE", "table %v (%s), want [%d, positions] F32", table.Shape(), table.DType(), p.Dims)
	}
	return k, rows, tn
}

// CheckStoreKV checks x F32 [k, T] into cache [k, nCtx] (F16 or F32) at the
// positions pos I32 [T].
func CheckStoreKV(cache, x, pos Tensor) (k, rows, nctx int) {
	k, rows = RowsOf(x)
	ck, cn := RowsOf(cache)
	if ck != k || x.DType() != gguf.F32 || (cache.DType() != gguf.F16 && cache.DType() != gguf.F32) || k%2 != 0 {
		shapeErr("StoreKV", "x %v (%s) into cache %v (%s)", x.Shape(), x.DType(), cache.Shape(), cache.DType())
	}
	CheckInts("StoreKV", "pos", pos, rows)
	return k, rows, cn
}

// CheckAttention checks q and dst F32 [NHead*HeadDim, T], caches k and v
// [NKVHead*HeadDim, nCtx] of one type and pos I32 [T]; it returns T and
// nCtx.
func CheckAttention(dst, q, k, v, pos Tensor, p AttnParams) (rows, nctx int) {
	CheckSame("Attention", dst, q)
	qk, r := RowsOf(q)
	kvk, nc := RowsOf(k)
	vk, vn := RowsOf(v)
	if p.HeadDim <= 0 || p.NHead*p.HeadDim != qk || p.NKVHead <= 0 || p.NKVHead*p.HeadDim != kvk || p.NHead%p.NKVHead != 0 ||
		k.DType() != v.DType() || vk != kvk || vn != nc || (k.DType() != gguf.F16 && k.DType() != gguf.F32) {
		shapeErr("Attention", "q %v, k %v (%s), v %v (%s), %+v", q.Shape(), k.Shape(), k.DType(), v.Shape(), v.DType(), p)
	}
	CheckInts("Attention", "pos", pos, r)
	return r, nc
}

// CheckPenalize checks logits F32 [n, 1] and ids I32.
func CheckPenalize(logits, ids Tensor) (n, nids int) {
	n, r := RowsOf(logits)
	if logits.DType() != gguf.F32 || r != 1 {
		shapeErr("Penalize", "logits %v (%s), want one F32 row", logits.Shape(), logits.DType())
	}
	return n, CheckInts("Penalize", "ids", ids, -1)
}

// CheckTopK checks logits F32 [n, 1], dst I32 [k, 2] and 1 <= k <=
// min(n, MaxTopK).
func CheckTopK(dst, logits Tensor, k int) (n int) {
	n, r := RowsOf(logits)
	if logits.DType() != gguf.F32 || r != 1 {
		shapeErr("TopK", "logits %v (%s), want one F32 row", logits.Shape(), logits.DType())
	}
	if k < 1 || k > min(n, MaxTopK) {
		shapeErr("TopK", "k = %d, want 1..%d", k, min(n, MaxTopK))
	}
	CheckInts("TopK", "dst", dst, 2*k)
	return n
}

// CheckAdvance checks ids and pos I32 [1], best I32 [k, 2] with k >= 1 and
// picks I32 [n] with n >= 1, and returns n.
func CheckAdvance(ids, pos, best, picks Tensor) (n int) {
	CheckInts("Advance", "ids", ids, 1)
	CheckInts("Advance", "pos", pos, 1)
	if e := CheckInts("Advance", "best", best, -1); e < 2 || e%2 != 0 {
		shapeErr("Advance", "best %v, want I32 [k, 2]", best.Shape())
	}
	n = CheckInts("Advance", "picks", picks, -1)
	if n < 1 {
		shapeErr("Advance", "picks %v, want at least one element", picks.Shape())
	}
	return n
}
