// Command asm generates the amd64 assembly of package kernels.
//
// Run it through go generate in the parent directory:
//
//	go run ./asm -out kernels_amd64.s -stubs stubs_amd64.go
package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Software prefetch distances, in bytes ahead of the current weight pointer.
const (
	i2sPrefetch = 4096
	// The single-row VNNI kernel prefetches twice: PREFETCHT1 far ahead brings
	// the weights from memory into L2, PREFETCHT0 closer ahead moves them on
	// into L1, so that the dot products do not wait on L2. With only the L2
	// prefetch the kernel measured ~83% of the streaming read on a Xeon
	// (Emerald Rapids); with both, ~91% (1 thread) and ~94% (2 threads).
	i2sRowFar   = 8192
	i2sRowNear  = 3072
	f16Prefetch = 4096
	// The single-row AVX-512 F16 kernel also moves the weights on into L1
	// f16Near bytes ahead, as the I2_S one does: 2-thread LM-head matvec
	// 30.3-30.7 GB/s without, 31.5-32.0 GB/s with (BenchmarkEfficiency, two
	// runs each, stream 31.4-32.3 GB/s).
	f16Near = 2048
	// The Q8_0 and Q6_K kernels prefetch into L1 (PREFETCHT0), close ahead:
	// on an AMD EPYC (Zen 4) the Q6_K kernel, which does the most work per
	// byte, reached 9.6-10.7 GB/s this way (best of 30 passes, one thread,
	// 69 MB of weights), and 4.8-6.2 GB/s with PREFETCHT1 4096 bytes ahead,
	// with or without PREFETCHT0 1024 bytes ahead as well. Not measured on
	// a Xeon.
	quantPrefetch = 1024
	// streamPrefetch = 8192 leaves StreamSum to the hardware prefetchers.
	streamPrefetch = 8192
)

// Prefetch instructions, by kernel family. PREFETCHT1 (into L2) measured
// faster than PREFETCHT0 for the weight streams on a Xeon (Emerald Rapids).
var (
	pfI2S    = PREFETCHT1
	pfF16    = PREFETCHT1
	pfStream = PREFETCHT1
	pfQuant  = PREFETCHT0
)

func main() {
	ConstraintExpr("!noasm")

	constants()

	i2sRowsVNNI()
	i2sRows4VNNI()
	i2sRowsAVX2()
	f16RowsAVX512()
	f16RowsAVX2()
	for _, tokens := range []int{4, 2} {
		i2sTileVNNI(tokens)
		i2sTileAVX2(tokens)
		f16TileAVX512(tokens)
		f16TileAVX2(tokens)
	}

	q6kRowsAVX512()
	q8RowsAVX2()
	q8RowsAVX512()
	q6kRowsAVX2()

	dotF32AVX512()
	dotF32AVX2()
	axpyF32AVX2()
	dotsF32AVX2()
	axpysF32AVX2()
	axpysF16AVX2()
	for _, cols := range []int{64, 32, 16} {
		axpys4F16AVX512(cols)
	}
	f32ToF16AVX2()
	roundF16AVX2()
	scaleMaxF32AVX2()
	expSubF32AVX2()
	scaleF32AVX2()

	sumSqF64AVX2()
	scaleMulF32AVX2()
	addF32AVX2()
	relu2MulF32AVX2()
	dequantI32AVX2()

	sumI8AVX2()
	absMaxAVX2()
	quantAVX2()

	streamSumAVX2()
	streamSumAVX512()

	Generate()
}

var (
	expConsts Mem // float32 constants of expf, see expSubF32AVX2
	maskI2SA  Mem // bytes 0xC0 (low 32) then 0x30 (high 32)
	maskI2SB  Mem // bytes 0x0C (low 32) then 0x03 (high 32)
	shiftI2SA Mem // dwords 6 (low 8) then 4 (high 8)
	shiftI2SB Mem // dwords 2 (low 8) then 0 (high 8)
	permPack  Mem // dword permutation undoing the lane interleave of the packs
)

// The constants of expf (cpu/exp.go) in the order expSubF32AVX2 reads them.
var expValues = []float32{
	1.44269504088896341, 0.5, 0.693359375, -2.12194440e-4,
	1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
	1, -87.3,
}

func constants() {
	expConsts = GLOBL("expf_consts", RODATA|NOPTR)
	for i, v := range expValues {
		DATA(4*i, U32(math.Float32bits(v))) // bits: the assembler reads $(1) as an integer
	}
	maskI2SA = GLOBL("i2s_mask_a", RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(8*i, U64(pick[uint64](i < 4, 0xC0C0C0C0C0C0C0C0, 0x3030303030303030)))
	}
	maskI2SB = GLOBL("i2s_mask_b", RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(8*i, U64(pick[uint64](i < 4, 0x0C0C0C0C0C0C0C0C, 0x0303030303030303)))
	}
	shiftI2SA = GLOBL("i2s_shift_a", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(pick[uint32](i < 8, 6, 4)))
	}
	shiftI2SB = GLOBL("i2s_shift_b", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(pick[uint32](i < 8, 2, 0)))
	}
	permPack = GLOBL("pack_perm", RODATA|NOPTR)
	for i, v := range []uint32{0, 4, 1, 5, 2, 6, 3, 7} {
		DATA(4*i, U32(v))
	}
}

func pick[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

// vpdpbusd emits VPDPBUSD (AVX512_VNNI): acc += sum of 4 products of unsigned
// bytes of u with signed bytes of s, per dword, without saturation.
func vpdpbusd(s, u, acc Op) {
	Instruction(&ir.Instruction{
		Opcode:   "VPDPBUSD",
		Operands: []Op{s, u, acc},
		Inputs:   []Op{s, u, acc},
		Outputs:  []Op{acc},
	})
}

// hsumD reduces the 16 dwords of z to a 32-bit general register.
func hsumDZ(z VecVirtual) GPVirtual {
	y := YMM()
	VEXTRACTI64X4(U8(1), z, y)
	VPADDD(y, z.AsY(), y)
	x := XMM()
	VEXTRACTI32X4(U8(1), y, x)
	VPADDD(x, y.AsX(), x)
	t := XMM()
	VPSHUFD(U8(0x4E), x, t)
	VPADDD(t, x, x)
	VPSHUFD(U8(0xB1), x, t)
	VPADDD(t, x, x)
	r := GP32()
	VMOVD(x, r)
	return r
}

// hsumDY reduces the 8 dwords of y to a 32-bit general register.
func hsumDY(y VecVirtual) GPVirtual {
	x := XMM()
	VEXTRACTI128(U8(1), y, x)
	VPADDD(x, y.AsX(), x)
	t := XMM()
	VPSHUFD(U8(0x4E), x, t)
	VPADDD(t, x, x)
	VPSHUFD(U8(0xB1), x, t)
	VPADDD(t, x, x)
	r := GP32()
	VMOVD(x, r)
	return r
}

// hsumPSZ reduces the 16 floats of z into the low lane of an XMM register.
func hsumPSZ(z VecVirtual) VecVirtual {
	y := YMM()
	VEXTRACTF64X4(U8(1), z, y)
	VADDPS(y, z.AsY(), y)
	return hsumPSY(y)
}

// hsumPSY reduces the 8 floats of y into the low lane of an XMM register.
func hsumPSY(y VecVirtual) VecVirtual {
	x := XMM()
	VEXTRACTF128(U8(1), y, x)
	VADDPS(x, y.AsX(), x)
	t := XMM()
	VPERMILPS(U8(0x4E), x, t)
	VADDPS(t, x, x)
	VPERMILPS(U8(0xB1), x, t)
	VADDPS(t, x, x)
	return x
}

// ---------------------------------------------------------------------------
// I2_S x int8 dot products.
//
// A 32-byte block holds 128 codes: bits 7:6 of byte b are element b, bits 5:4
// element 32+b, bits 3:2 element 64+b, bits 1:0 element 96+b.
//
// VNNI: the block is broadcast to both halves of a ZMM register and masked
// with (0xC0 | 0x30) and (0x0C | 0x03); the masked bytes are code<<6, code<<4,
// code<<2 and code, lined up with q[0:32], q[32:64], q[64:96] and q[96:128], so
// two VPDPBUSD per block with q as memory operands do the work. Every dword
// lane keeps one scale, removed exactly with an arithmetic shift at the end.

func i2sRowsVNNI() {
	const name = "i2sRowsVNNI"
	TEXT(name, NOSPLIT, "func(w *byte, q *int8, nBlocks int, nRows int, stride int, out *int32)")
	Pragma("noescape")
	Doc(name + " sets out[r] = sum_k code(w[r*stride:], k) * q[k] for r < nRows, K = 128*nBlocks.")
	// Every 64 bytes of weights consumed issue one far and one near prefetch
	// (the four-block loop two of each, the two-block loop one); only an odd
	// last block of a row goes without.
	w := Load(Param("w"), GP64())
	q := Load(Param("q"), GP64())
	nb := Load(Param("nBlocks"), GP64())
	nr := Load(Param("nRows"), GP64())
	stride := Load(Param("stride"), GP64())
	out := Load(Param("out"), GP64())

	ma, mb := ZMM(), ZMM()
	VMOVDQU64(maskI2SA, ma)
	VMOVDQU64(maskI2SB, mb)

	const unroll = 4
	accA := make([]VecVirtual, unroll)
	accB := make([]VecVirtual, unroll)
	for i := range accA {
		accA[i], accB[i] = ZMM(), ZMM()
	}

	// The loops prefetch i2sRowFar bytes ahead: fetch the first stretch now.
	{
		p, e := GP64(), GP64()
		MOVQ(w, p)
		LEAQ(Mem{Base: w, Disp: i2sRowFar}, e)
		Label(name + "prolog")
		PREFETCHT1(Mem{Base: p})
		ADDQ(U8(64), p)
		CMPQ(p, e)
		JB(LabelRef(name + "prolog"))
	}
	row := GP64()
	XORQ(row, row)
	Label(name + "rows")
	CMPQ(row, nr)
	JGE(LabelRef(name + "done"))

	for i := range accA {
		VPXORD(accA[i], accA[i], accA[i])
		VPXORD(accB[i], accB[i], accB[i])
	}
	wp, qp, n := GP64(), GP64(), GP64()
	MOVQ(w, wp)
	MOVQ(q, qp)
	MOVQ(nb, n)

	Label(name + "loop4")
	CMPQ(n, U8(unroll))
	JL(LabelRef(name + "loop2"))
	for l := 0; l < unroll/2; l++ {
		PREFETCHT1(Mem{Base: wp, Disp: i2sRowFar + 64*l})
		PREFETCHT0(Mem{Base: wp, Disp: i2sRowNear + 64*l})
	}
	for u := 0; u < unroll; u++ {
		t, a, b := ZMM(), ZMM(), ZMM()
		VBROADCASTI64X4(Mem{Base: wp, Disp: 32 * u}, t)
		VPANDD(ma, t, a)
		VPANDD(mb, t, b)
		vpdpbusd(Mem{Base: qp, Disp: 128 * u}, a, accA[u])
		vpdpbusd(Mem{Base: qp, Disp: 128*u + 64}, b, accB[u])
	}
	ADDQ(U32(32*unroll), wp)
	ADDQ(U32(128*unroll), qp)
	SUBQ(U8(unroll), n)
	JMP(LabelRef(name + "loop4"))

	Label(name + "loop2")
	CMPQ(n, U8(2))
	JL(LabelRef(name + "loop1"))
	PREFETCHT1(Mem{Base: wp, Disp: i2sRowFar})
	PREFETCHT0(Mem{Base: wp, Disp: i2sRowNear})
	for u := 0; u < 2; u++ {
		t, a, b := ZMM(), ZMM(), ZMM()
		VBROADCASTI64X4(Mem{Base: wp, Disp: 32 * u}, t)
		VPANDD(ma, t, a)
		VPANDD(mb, t, b)
		vpdpbusd(Mem{Base: qp, Disp: 128 * u}, a, accA[u])
		vpdpbusd(Mem{Base: qp, Disp: 128*u + 64}, b, accB[u])
	}
	ADDQ(U8(64), wp)
	ADDQ(U32(256), qp)
	SUBQ(U8(2), n)
	JMP(LabelRef(name + "loop2"))

	Label(name + "loop1")
	TESTQ(n, n)
	JZ(LabelRef(name + "reduce"))
	{
		t, a, b := ZMM(), ZMM(), ZMM()
		VBROADCASTI64X4(Mem{Base: wp}, t)
		VPANDD(ma, t, a)
		VPANDD(mb, t, b)
		vpdpbusd(Mem{Base: qp}, a, accA[0])
		vpdpbusd(Mem{Base: qp, Disp: 64}, b, accB[0])
	}
	ADDQ(U8(32), wp)
	SUBQ(I8(-128), qp)
	DECQ(n)
	JMP(LabelRef(name + "loop1"))

	Label(name + "reduce")
	for i := 1; i < unroll; i++ {
		VPADDD(accA[i], accA[0], accA[0])
		VPADDD(accB[i], accB[0], accB[0])
	}
	VPSRAVD(shiftI2SA, accA[0], accA[0])
	VPSRAVD(shiftI2SB, accB[0], accB[0])
	VPADDD(accB[0], accA[0], accA[0])
	r := hsumDZ(accA[0])
	MOVL(r, Mem{Base: out, Index: row, Scale: 4})

	ADDQ(stride, w)
	INCQ(row)
	JMP(LabelRef(name + "rows"))

	Label(name + "done")
	VZEROUPPER()
	RET()
}

func i2sRows4VNNI() {
	TEXT("i2sRows4VNNI", NOSPLIT, "func(w *byte, q *int8, nBlocks int, nRows int, stride int, out *int32)")
	Pragma("noescape")
	Doc("i2sRows4VNNI is i2sRowsVNNI for nRows a multiple of 4: it runs four rows at a time so",
		"that each load of q serves four rows.")
	w := Load(Param("w"), GP64())
	q := Load(Param("q"), GP64())
	nb := Load(Param("nBlocks"), GP64())
	nr := Load(Param("nRows"), GP64())
	stride := Load(Param("stride"), GP64())
	out := Load(Param("out"), GP64())
	SHRQ(U8(2), nr)

	ma, mb := ZMM(), ZMM()
	VMOVDQU64(maskI2SA, ma)
	VMOVDQU64(maskI2SB, mb)

	accA := make([]VecVirtual, 4)
	accB := make([]VecVirtual, 4)
	for i := range accA {
		accA[i], accB[i] = ZMM(), ZMM()
	}

	Label("rows")
	TESTQ(nr, nr)
	JZ(LabelRef("done"))

	for i := range accA {
		VPXORD(accA[i], accA[i], accA[i])
		VPXORD(accB[i], accB[i], accB[i])
	}
	// Row pointers w, w+stride, w+2*stride, w+3*stride as base+index forms.
	w3, qp, n, pf := GP64(), GP64(), GP64(), GP64()
	LEAQ(Mem{Base: stride, Index: stride, Scale: 2}, w3)
	MOVQ(q, qp)
	MOVQ(nb, n)
	// The four rows occupy 4*stride contiguous bytes, consumed 128 bytes per
	// iteration: a prefetch pointer moving 128 bytes per iteration stays the
	// same distance ahead of all of them.
	LEAQ(Mem{Base: w, Disp: i2sPrefetch}, pf)
	wp := GP64()
	MOVQ(w, wp)

	Label("loop")
	pfI2S(Mem{Base: pf})
	pfI2S(Mem{Base: pf, Disp: 64})
	{
		qa, qb := ZMM(), ZMM()
		VMOVDQU64(Mem{Base: qp}, qa)
		VMOVDQU64(Mem{Base: qp, Disp: 64}, qb)
		rows := []Mem{
			{Base: wp},
			{Base: wp, Index: stride, Scale: 1},
			{Base: wp, Index: stride, Scale: 2},
			{Base: wp, Index: w3, Scale: 1},
		}
		for i, m := range rows {
			t, a, b := ZMM(), ZMM(), ZMM()
			VBROADCASTI64X4(m, t)
			VPANDD(ma, t, a)
			VPANDD(mb, t, b)
			vpdpbusd(qa, a, accA[i])
			vpdpbusd(qb, b, accB[i])
		}
	}
	ADDQ(U8(32), wp)
	SUBQ(I8(-128), qp)
	SUBQ(I8(-128), pf)
	DECQ(n)
	JNZ(LabelRef("loop"))

	// Remove the lane scales, fold each row to 8 dwords, then reduce the four
	// rows together with horizontal adds into one XMM of four sums.
	ys := make([]VecVirtual, 4)
	for i := range accA {
		VPSRAVD(shiftI2SA, accA[i], accA[i])
		VPSRAVD(shiftI2SB, accB[i], accB[i])
		VPADDD(accB[i], accA[i], accA[i])
		ys[i] = YMM()
		VEXTRACTI64X4(U8(1), accA[i], ys[i])
		VPADDD(ys[i], accA[i].AsY(), ys[i])
	}
	VPHADDD(ys[1], ys[0], ys[0])
	VPHADDD(ys[3], ys[2], ys[2])
	VPHADDD(ys[2], ys[0], ys[0])
	x := XMM()
	VEXTRACTI128(U8(1), ys[0], x)
	VPADDD(x, ys[0].AsX(), x)
	VMOVDQU(x, Mem{Base: out})

	LEAQ(Mem{Base: w, Index: stride, Scale: 4}, w)
	ADDQ(U8(16), out)
	DECQ(nr)
	JMP(LabelRef("rows"))

	Label("done")
	VZEROUPPER()
	RET()
}

// i2sTileVNNI emits i2sTile<tokens>VNNI: the weights of a row unpacked
// once for tokens tokens.
func i2sTileVNNI(tokens int) {
	name := fmt.Sprintf("i2sTile%dVNNI", tokens)
	TEXT(name, NOSPLIT, "func(w *byte, q *int8, qStride int, nBlocks int, nRows int, stride int, out *int32, outStride int)")
	Pragma("noescape")
	Doc(name+" sets out[t*outStride+r] = sum_k code(w[r*stride:], k) * q[t*qStride+k]",
		fmt.Sprintf("for t < %d and r < nRows, K = 128*nBlocks. Strides are in elements.", tokens))
	w := Load(Param("w"), GP64())
	q0 := Load(Param("q"), GP64())
	qs := Load(Param("qStride"), GP64())
	nb := Load(Param("nBlocks"), GP64())
	nr := Load(Param("nRows"), GP64())
	stride := Load(Param("stride"), GP64())
	out := Load(Param("out"), GP64())
	os := Load(Param("outStride"), GP64())
	SHLQ(U8(2), os)

	q := []Register{q0}
	for i := 1; i < tokens; i++ {
		q = append(q, GP64())
		LEAQ(Mem{Base: q[i-1], Index: qs, Scale: 1}, q[i])
	}

	ma, mb := ZMM(), ZMM()
	VMOVDQU64(maskI2SA, ma)
	VMOVDQU64(maskI2SB, mb)

	accA := make([]VecVirtual, tokens)
	accB := make([]VecVirtual, tokens)
	for i := range accA {
		accA[i], accB[i] = ZMM(), ZMM()
	}

	Label("rows")
	TESTQ(nr, nr)
	JZ(LabelRef("done"))

	for i := range accA {
		VPXORD(accA[i], accA[i], accA[i])
		VPXORD(accB[i], accB[i], accB[i])
	}
	wp, off, n := GP64(), GP64(), GP64()
	MOVQ(w, wp)
	XORQ(off, off)
	MOVQ(nb, n)

	Label("loop")
	pfI2S(Mem{Base: wp, Disp: i2sPrefetch})
	{
		t, a, b := ZMM(), ZMM(), ZMM()
		VBROADCASTI64X4(Mem{Base: wp}, t)
		VPANDD(ma, t, a)
		VPANDD(mb, t, b)
		for i := range tokens {
			vpdpbusd(Mem{Base: q[i], Index: off, Scale: 1}, a, accA[i])
			vpdpbusd(Mem{Base: q[i], Index: off, Scale: 1, Disp: 64}, b, accB[i])
		}
	}
	ADDQ(U8(32), wp)
	SUBQ(I8(-128), off)
	DECQ(n)
	JNZ(LabelRef("loop"))

	op := GP64()
	MOVQ(out, op)
	for i := range tokens {
		VPSRAVD(shiftI2SA, accA[i], accA[i])
		VPSRAVD(shiftI2SB, accB[i], accB[i])
		VPADDD(accB[i], accA[i], accA[i])
		r := hsumDZ(accA[i])
		MOVL(r, Mem{Base: op})
		ADDQ(os, op)
	}

	ADDQ(stride, w)
	ADDQ(U8(4), out)
	DECQ(nr)
	JMP(LabelRef("rows"))

	Label("done")
	VZEROUPPER()
	RET()
}

// AVX2: codes are unpacked with shifts and a 0x03 mask, multiplied with
// VPMADDUBSW (codes unsigned, q signed; a pair is at most 2*3*128 in magnitude,
// so nothing saturates), the int16 results of a block are added (at most
// 3072 in magnitude) and widened with VPMADDWD by ones.

func unpackAVX2(src Op, m3 VecVirtual) [4]VecVirtual {
	t := YMM()
	VMOVDQU(src, t)
	var c [4]VecVirtual
	for i := 0; i < 3; i++ {
		c[i] = YMM()
		VPSRLW(U8(6-2*i), t, c[i])
		VPAND(m3, c[i], c[i])
	}
	c[3] = YMM()
	VPAND(m3, t, c[3])
	return c
}

func i2sRowsAVX2() {
	TEXT("i2sRowsAVX2", NOSPLIT, "func(w *byte, q *int8, nBlocks int, nRows int, stride int, out *int32)")
	Pragma("noescape")
	Doc("i2sRowsAVX2 sets out[r] = sum_k code(w[r*stride:], k) * q[k] for r < nRows, K = 128*nBlocks.")
	w := Load(Param("w"), GP64())
	q := Load(Param("q"), GP64())
	nb := Load(Param("nBlocks"), GP64())
	nr := Load(Param("nRows"), GP64())
	stride := Load(Param("stride"), GP64())
	out := Load(Param("out"), GP64())

	m3, ones := YMM(), YMM()
	tmp := GP32()
	MOVL(U32(0x03030303), tmp)
	VMOVD(tmp, m3.AsX())
	VPBROADCASTD(m3.AsX(), m3)
	MOVL(U32(0x00010001), tmp)
	VMOVD(tmp, ones.AsX())
	VPBROADCASTD(ones.AsX(), ones)

	acc := []VecVirtual{YMM(), YMM()}

	row := GP64()
	XORQ(row, row)
	Label("rows")
	CMPQ(row, nr)
	JGE(LabelRef("done"))

	for i := range acc {
		VPXOR(acc[i], acc[i], acc[i])
	}
	wp, qp, n := GP64(), GP64(), GP64()
	MOVQ(w, wp)
	MOVQ(q, qp)
	MOVQ(nb, n)

	block := func(u int, acc VecVirtual) {
		c := unpackAVX2(Mem{Base: wp, Disp: 32 * u}, m3)
		p := [4]VecVirtual{YMM(), YMM(), YMM(), YMM()}
		for i := 0; i < 4; i++ {
			VPMADDUBSW(Mem{Base: qp, Disp: 128*u + 32*i}, c[i], p[i])
		}
		VPADDW(p[1], p[0], p[0])
		VPADDW(p[3], p[2], p[2])
		VPADDW(p[2], p[0], p[0])
		VPMADDWD(ones, p[0], p[0])
		VPADDD(p[0], acc, acc)
	}

	Label("loop2")
	CMPQ(n, U8(2))
	JL(LabelRef("loop1"))
	pfI2S(Mem{Base: wp, Disp: i2sPrefetch})
	block(0, acc[0])
	block(1, acc[1])
	ADDQ(U8(64), wp)
	ADDQ(U32(256), qp)
	SUBQ(U8(2), n)
	JMP(LabelRef("loop2"))

	Label("loop1")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	block(0, acc[0])

	Label("reduce")
	VPADDD(acc[1], acc[0], acc[0])
	r := hsumDY(acc[0])
	MOVL(r, Mem{Base: out, Index: row, Scale: 4})

	ADDQ(stride, w)
	INCQ(row)
	JMP(LabelRef("rows"))

	Label("done")
	VZEROUPPER()
	RET()
}

// i2sTileAVX2 emits i2sTile<tokens>AVX2 (see i2sTileVNNI).
func i2sTileAVX2(tokens int) {
	name := fmt.Sprintf("i2sTile%dAVX2", tokens)
	TEXT(name, NOSPLIT, "func(w *byte, q *int8, qStride int, nBlocks int, nRows int, stride int, out *int32, outStride int)")
	Pragma("noescape")
	Doc(name+" sets out[t*outStride+r] = sum_k code(w[r*stride:], k) * q[t*qStride+k]",
		fmt.Sprintf("for t < %d and r < nRows, K = 128*nBlocks. Strides are in elements.", tokens))
	w := Load(Param("w"), GP64())
	q0 := Load(Param("q"), GP64())
	qs := Load(Param("qStride"), GP64())
	nb := Load(Param("nBlocks"), GP64())
	nr := Load(Param("nRows"), GP64())
	stride := Load(Param("stride"), GP64())
	out := Load(Param("out"), GP64())
	os := Load(Param("outStride"), GP64())
	SHLQ(U8(2), os)

	q := []Register{q0}
	for i := 1; i < tokens; i++ {
		q = append(q, GP64())
		LEAQ(Mem{Base: q[i-1], Index: qs, Scale: 1}, q[i])
	}

	m3, ones := YMM(), YMM()
	tmp := GP32()
	MOVL(U32(0x03030303), tmp)
	VMOVD(tmp, m3.AsX())
	VPBROADCASTD(m3.AsX(), m3)
	MOVL(U32(0x00010001), tmp)
	VMOVD(tmp, ones.AsX())
	VPBROADCASTD(ones.AsX(), ones)

	acc := make([]VecVirtual, tokens)
	for i := range acc {
		acc[i] = YMM()
	}

	Label("rows")
	TESTQ(nr, nr)
	JZ(LabelRef("done"))

	for i := range acc {
		VPXOR(acc[i], acc[i], acc[i])
	}
	wp, off, n := GP64(), GP64(), GP64()
	MOVQ(w, wp)
	XORQ(off, off)
	MOVQ(nb, n)

	Label("loop")
	pfI2S(Mem{Base: wp, Disp: i2sPrefetch})
	c := unpackAVX2(Mem{Base: wp}, m3)
	for t := range tokens {
		p0, p1 := YMM(), YMM()
		VPMADDUBSW(Mem{Base: q[t], Index: off, Scale: 1}, c[0], p0)
		VPMADDUBSW(Mem{Base: q[t], Index: off, Scale: 1, Disp: 32}, c[1], p1)
		VPADDW(p1, p0, p0)
		VPMADDUBSW(Mem{Base: q[t], Index: off, Scale: 1, Disp: 64}, c[2], p1)
		VPADDW(p1, p0, p0)
		VPMADDUBSW(Mem{Base: q[t], Index: off, Scale: 1, Disp: 96}, c[3], p1)
		VPADDW(p1, p0, p0)
		VPMADDWD(ones, p0, p0)
		VPADDD(p0, acc[t], acc[t])
	}
	ADDQ(U8(32), wp)
	SUBQ(I8(-128), off)
	DECQ(n)
	JNZ(LabelRef("loop"))

	op := GP64()
	MOVQ(out, op)
	for t := range tokens {
		r := hsumDY(acc[t])
		MOVL(r, Mem{Base: op})
		ADDQ(os, op)
	}

	ADDQ(stride, w)
	ADDQ(U8(4), out)
	DECQ(nr)
	JMP(LabelRef("rows"))

	Label("done")
	VZEROUPPER()
	RET()
}

// ---------------------------------------------------------------------------
// F16 x float32 dot products.

// tailMask sets k to the low rem bits (rem < 16).
func tailMask(rem GPVirtual, k Op) {
	m, one := GP32(), GP32()
	MOVL(U32(1), one)
	MOVL(rem.As32(), m)
	// m = (1 << rem) - 1
	SHLXL(m, one, m)
	DECL(m)
	KMOVW(m, k)
}

func f16RowsAVX512() {
	TEXT("f16RowsAVX512", NOSPLIT, "func(w *uint16, x *float32, n int, nRows int, stride int, out *float32)")
	Pragma("noescape")
	Doc("f16RowsAVX512 sets out[r] = sum_k f32(w[r*stride+k]) * x[k] for r < nRows, k < n; stride in bytes.")
	w := Load(Param("w"), GP64())
	x := Load(Param("x"), GP64())
	nn := Load(Param("n"), GP64())
	nr := Load(Param("nRows"), GP64())
	stride := Load(Param("stride"), GP64())
	out := Load(Param("out"), GP64())

	k := K()
	rem := GP64()
	MOVQ(nn, rem)
	ANDQ(U8(15), rem)
	tailMask(rem, k)

	const unroll = 4
	acc := make([]VecVirtual, unroll)
	for i := range acc {
		acc[i] = ZMM()
	}

	row := GP64()
	XORQ(row, row)
	Label("rows")
	CMPQ(row, nr)
	JGE(LabelRef("done"))

	for i := range acc {
		VXORPS(acc[i], acc[i], acc[i])
	}
	wp, xp, n := GP64(), GP64(), GP64()
	MOVQ(w, wp)
	MOVQ(x, xp)
	MOVQ(nn, n)

	Label("loop4")
	CMPQ(n, U8(16*unroll))
	JL(LabelRef("loop1"))
	pfF16(Mem{Base: wp, Disp: f16Prefetch})
	pfF16(Mem{Base: wp, Disp: f16Prefetch + 64})
	PREFETCHT0(Mem{Base: wp, Disp: f16Near})
	PREFETCHT0(Mem{Base: wp, Disp: f16Near + 64})
	for u := 0; u < unroll; u++ {
		t := ZMM()
		VCVTPH2PS(Mem{Base: wp, Disp: 32 * u}, t)
		VFMADD231PS(Mem{Base: xp, Disp: 64 * u}, t, acc[u])
	}
	ADDQ(U8(32*unroll), wp)
	ADDQ(U32(64*unroll), xp)
	SUBQ(U8(16*unroll), n)
	JMP(LabelRef("loop4"))

	Label("loop1")
	CMPQ(n, U8(16))
	JL(LabelRef("tail"))
	{
		t := ZMM()
		VCVTPH2PS(Mem{Base: wp}, t)
		VFMADD231PS(Mem{Base: xp}, t, acc[0])
	}
	ADDQ(U8(32), wp)
	ADDQ(U8(64), xp)
	SUBQ(U8(16), n)
	JMP(LabelRef("loop1"))

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	{
		t, xv := ZMM(), ZMM()
		VCVTPH2PS_Z(Mem{Base: wp}, k, t)
		VMOVUPS_Z(Mem{Base: xp}, k, xv)
		VFMADD231PS(xv, t, acc[1])
	}

	Label("reduce")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	s := hsumPSZ(acc[0])
	VMOVSS(s, Mem{Base: out, Index: row, Scale: 4})

	ADDQ(stride, w)
	INCQ(row)
	JMP(LabelRef("rows"))

	Label("done")
	VZEROUPPER()
	RET()
}

// f16PrefetchDistance returns a register holding the tile kernels'
// prefetch distance in bytes: pfRows rows of stride bytes, or f16Prefetch
// when pfRows is 0.
func f16PrefetchDistance(stride Register) Register {
	pfd := Load(Param("pfRows"), GP64())
	IMULQ(stride, pfd)
	TESTQ(pfd, pfd)
	JNZ(LabelRef("pfset"))
	MOVQ(U32(f16Prefetch), pfd)
	Label("pfset")
	return pfd
}

// f16TileAVX512 emits f16Tile<tokens>AVX512: each weight converted once
// for tokens tokens.
func f16TileAVX512(tokens int) {
	name := fmt.Sprintf("f16Tile%dAVX512", tokens)
	TEXT(name, NOSPLIT, "func(w *uint16, x *float32, xStride int, n int, nRows int, stride int, out *float32, outStride int, pfRows int)")
	Pragma("noescape")
	Doc(name+" sets out[t*outStride+r] = sum_k f32(w[r*stride+k]) * x[t*xStride+k]",
		fmt.Sprintf("for t < %d, r < nRows, k < n. stride in bytes, xStride and outStride in elements.", tokens),
		"It prefetches pfRows rows ahead (short rows, such as a cache's keys), or with",
		"pfRows 0 within the row, f16Prefetch bytes ahead.")
	w := Load(Param("w"), GP64())
	x0 := Load(Param("x"), GP64())
	xs := Load(Param("xStride"), GP64())
	nn := Load(Param("n"), GP64())
	nr := Load(Param("nRows"), GP64())
	stride := Load(Param("stride"), GP64())
	out := Load(Param("out"), GP64())
	os := Load(Param("outStride"), GP64())
	SHLQ(U8(2), os)
	SHLQ(U8(2), xs)
	pfd := f16PrefetchDistance(stride)

	x := []Register{x0}
	for i := 1; i < tokens; i++ {
		x = append(x, GP64())
		LEAQ(Mem{Base: x[i-1], Index: xs, Scale: 1}, x[i])
	}

	k := K()
	rem := GP64()
	MOVQ(nn, rem)
	ANDQ(U8(15), rem)
	tailMask(rem, k)

	acc := make([][2]VecVirtual, tokens)
	for i := range acc {
		acc[i] = [2]VecVirtual{ZMM(), ZMM()}
	}

	Label("rows")
	TESTQ(nr, nr)
	JZ(LabelRef("done"))

	for i := range acc {
		VXORPS(acc[i][0], acc[i][0], acc[i][0])
		VXORPS(acc[i][1], acc[i][1], acc[i][1])
	}
	wp, off, n := GP64(), GP64(), GP64()
	MOVQ(w, wp)
	XORQ(off, off)
	MOVQ(nn, n)

	Label("loop2")
	CMPQ(n, U8(32))
	JL(LabelRef("loop1"))
	pfF16(Mem{Base: wp, Index: pfd, Scale: 1})
	for u := 0; u < 2; u++ {
		wv := ZMM()
		VCVTPH2PS(Mem{Base: wp, Disp: 32 * u}, wv)
		for t := range tokens {
			VFMADD231PS(Mem{Base: x[t], Index: off, Scale: 1, Disp: 64 * u}, wv, acc[t][u])
		}
	}
	ADDQ(U8(64), wp)
	SUBQ(I8(-128), off)
	SUBQ(U8(32), n)
	JMP(LabelRef("loop2"))

	Label("loop1")
	CMPQ(n, U8(16))
	JL(LabelRef("tail"))
	{
		wv := ZMM()
		VCVTPH2PS(Mem{Base: wp}, wv)
		for t := range tokens {
			VFMADD231PS(Mem{Base: x[t], Index: off, Scale: 1}, wv, acc[t][0])
		}
	}
	ADDQ(U8(32), wp)
	ADDQ(U8(64), off)
	SUBQ(U8(16), n)

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	{
		wv := ZMM()
		VCVTPH2PS_Z(Mem{Base: wp}, k, wv)
		for t := range tokens {
			xv := ZMM()
			VMOVUPS_Z(Mem{Base: x[t], Index: off, Scale: 1}, k, xv)
			VFMADD231PS(xv, wv, acc[t][1])
		}
	}

	Label("reduce")
	op := GP64()
	MOVQ(out, op)
	for t := range tokens {
		VADDPS(acc[t][1], acc[t][0], acc[t][0])
		s := hsumPSZ(acc[t][0])
		VMOVSS(s, Mem{Base: op})
		ADDQ(os, op)
	}

	ADDQ(stride, w)
	ADDQ(U8(4), out)
	DECQ(nr)
	JMP(LabelRef("rows"))

	Label("done")
	VZEROUPPER()
	RET()
}

func f16RowsAVX2() {
	TEXT("f16RowsAVX2", NOSPLIT, "func(w *uint16, x *float32, n int, nRows int, stride int, out *float32)")
	Pragma("noescape")
	Doc("f16RowsAVX2 sets out[r] = sum_k f32(w[r*stride+k]) * x[k] for r < nRows, k < n;",
		"n is a multiple of 8, stride in bytes.")
	w := Load(Param("w"), GP64())
	x := Load(Param("x"), GP64())
	nn := Load(Param("n"), GP64())
	nr := Load(Param("nRows"), GP64())
	stride := Load(Param("stride"), GP64())
	out := Load(Param("out"), GP64())

	const unroll = 4
	acc := make([]VecVirtual, unroll)
	for i := range acc {
		acc[i] = YMM()
	}

	row := GP64()
	XORQ(row, row)
	Label("rows")
	CMPQ(row, nr)
	JGE(LabelRef("done"))

	for i := range acc {
		VXORPS(acc[i], acc[i], acc[i])
	}
	wp, xp, n := GP64(), GP64(), GP64()
	MOVQ(w, wp)
	MOVQ(x, xp)
	MOVQ(nn, n)

	Label("loop4")
	CMPQ(n, U8(8*unroll))
	JL(LabelRef("loop1"))
	pfF16(Mem{Base: wp, Disp: f16Prefetch})
	for u := 0; u < unroll; u++ {
		t := YMM()
		VCVTPH2PS(Mem{Base: wp, Disp: 16 * u}, t)
		VFMADD231PS(Mem{Base: xp, Disp: 32 * u}, t, acc[u])
	}
	ADDQ(U8(16*unroll), wp)
	ADDQ(U8(32*unroll), xp)
	SUBQ(U8(8*unroll), n)
	JMP(LabelRef("loop4"))

	Label("loop1")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	{
		t := YMM()
		VCVTPH2PS(Mem{Base: wp}, t)
		VFMADD231PS(Mem{Base: xp}, t, acc[0])
	}
	ADDQ(U8(16), wp)
	ADDQ(U8(32), xp)
	SUBQ(U8(8), n)
	JMP(LabelRef("loop1"))

	Label("reduce")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	s := hsumPSY(acc[0])
	VMOVSS(s, Mem{Base: out, Index: row, Scale: 4})

	ADDQ(stride, w)
	INCQ(row)
	JMP(LabelRef("rows"))

	Label("done")
	VZEROUPPER()
	RET()
}

// f16TileAVX2 emits f16Tile<tokens>AVX2 (see f16TileAVX512).
func f16TileAVX2(tokens int) {
	name := fmt.Sprintf("f16Tile%dAVX2", tokens)
	TEXT(name, NOSPLIT, "func(w *uint16, x *float32, xStride int, n int, nRows int, stride int, out *float32, outStride int, pfRows int)")
	Pragma("noescape")
	Doc(name+" sets out[t*outStride+r] = sum_k f32(w[r*stride+k]) * x[t*xStride+k]",
		fmt.Sprintf("for t < %d, r < nRows, k < n; n is a multiple of 8. stride in bytes, xStride and outStride in elements.", tokens),
		fmt.Sprintf("It prefetches as f16Tile%dAVX512 does.", tokens))
	w := Load(Param("w"), GP64())
	x0 := Load(Param("x"), GP64())
	xs := Load(Param("xStride"), GP64())
	nn := Load(Param("n"), GP64())
	nr := Load(Param("nRows"), GP64())
	stride := Load(Param("stride"), GP64())
	out := Load(Param("out"), GP64())
	os := Load(Param("outStride"), GP64())
	SHLQ(U8(2), os)
	SHLQ(U8(2), xs)
	pfd := f16PrefetchDistance(stride)

	x := []Register{x0}
	for i := 1; i < tokens; i++ {
		x = append(x, GP64())
		LEAQ(Mem{Base: x[i-1], Index: xs, Scale: 1}, x[i])
	}

	acc := make([][2]VecVirtual, tokens)
	for i := range acc {
		acc[i] = [2]VecVirtual{YMM(), YMM()}
	}

	Label("rows")
	TESTQ(nr, nr)
	JZ(LabelRef("done"))

	for i := range acc {
		VXORPS(acc[i][0], acc[i][0], acc[i][0])
		VXORPS(acc[i][1], acc[i][1], acc[i][1])
	}
	wp, off, n := GP64(), GP64(), GP64()
	MOVQ(w, wp)
	XORQ(off, off)
	MOVQ(nn, n)

	Label("loop2")
	CMPQ(n, U8(16))
	JL(LabelRef("loop1"))
	pfF16(Mem{Base: wp, Index: pfd, Scale: 1})
	for u := 0; u < 2; u++ {
		wv := YMM()
		VCVTPH2PS(Mem{Base: wp, Disp: 16 * u}, wv)
		for t := range tokens {
			VFMADD231PS(Mem{Base: x[t], Index: off, Scale: 1, Disp: 32 * u}, wv, acc[t][u])
		}
	}
	ADDQ(U8(32), wp)
	ADDQ(U8(64), off)
	SUBQ(U8(16), n)
	JMP(LabelRef("loop2"))

	Label("loop1")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	{
		wv := YMM()
		VCVTPH2PS(Mem{Base: wp}, wv)
		for t := range tokens {
			VFMADD231PS(Mem{Base: x[t], Index: off, Scale: 1}, wv, acc[t][0])
		}
	}

	Label("reduce")
	op := GP64()
	MOVQ(out, op)
	for t := range tokens {
		VADDPS(acc[t][1], acc[t][0], acc[t][0])
		s := hsumPSY(acc[t][0])
		VMOVSS(s, Mem{Base: op})
		ADDQ(os, op)
	}

	ADDQ(stride, w)
	ADDQ(U8(4), out)
	DECQ(nr)
	JMP(LabelRef("rows"))

	Label("done")
	VZEROUPPER()
	RET()
}

// ---------------------------------------------------------------------------
// Quantized (Q8_0, Q6_K) x float32 dot products: the LM head of quantized
// models. Rows lie back to back, so the weights are one stream; the codes are
// widened to int32 (VPMOVSXBD), converted to float32 and multiplied with x.

// prefetchQuant prefetches lines lines of weights from wp+quantPrefetch.
func prefetchQuant(wp Register, lines int) {
	for l := 0; l < lines; l++ {
		pfQuant(Mem{Base: wp, Disp: quantPrefetch + 64*l})
	}
}

// q8Block emits one Q8_0 block at wp+34*u (x at xp+128*u): acc += d * sum.
func q8Block(wp, xp Register, u int, acc VecVirtual) {
	base, xb := 34*u, 128*u
	d := YMM()
	VPBROADCASTW(Mem{Base: wp, Disp: base}, d.AsX())
	VCVTPH2PS(d.AsX(), d)
	t := [2]VecVirtual{YMM(), YMM()}
	for i := 0; i < 4; i++ {
		q := YMM()
		VPMOVSXBD(Mem{Base: wp, Disp: base + 2 + 8*i}, q)
		VCVTDQ2PS(q, q)
		if i < 2 {
			VMULPS(Mem{Base: xp, Disp: xb + 32*i}, q, t[i])
		} else {
			VFMADD231PS(Mem{Base: xp, Disp: xb + 32*i}, q, t[i-2])
		}
	}
	VADDPS(t[1], t[0], t[0])
	VFMADD231PS(d, t[0], acc)
}

func q8RowsAVX2() {
	q8Rows("q8RowsAVX2", false, "q8RowsAVX2 sets out[r] to the dot product of Q8_0 row r with x for r < nRows;",
		"rows of nBlocks 34-byte blocks lie back to back from w, x holds 32*nBlocks floats.")
}

func q8RowsAVX512() {
	q8Rows("q8RowsAVX512", true, "q8RowsAVX512 is q8RowsAVX2 in ZMM registers, with the F16 kernel's two",
		"prefetches (into L2 far ahead, into L1 near) at the single-row I2_S kernel's distances.")
}

// q8BlockZ emits one Q8_0 block at wp+34*u (x at xp+128*u) in ZMM
// registers, 16 codes at a time: acc += d * sum.
func q8BlockZ(wp, xp Register, u int, acc VecVirtual) {
	base, xb := 34*u, 128*u
	d := ZMM()
	VPBROADCASTW(Mem{Base: wp, Disp: base}, d.AsY())
	VCVTPH2PS(d.AsY(), d)
	t := [2]VecVirtual{ZMM(), ZMM()}
	for i := 0; i < 2; i++ {
		VPMOVSXBD(Mem{Base: wp, Disp: base + 2 + 16*i}, t[i])
		VCVTDQ2PS(t[i], t[i])
	}
	VMULPS(Mem{Base: xp, Disp: xb}, t[0], t[0])
	VFMADD231PS(Mem{Base: xp, Disp: xb + 64}, t[1], t[0])
	VFMADD231PS(d, t[0], acc)
}

// q8Rows emits a Q8_0 matvec: in YMM registers with PREFETCHT0 close
// ahead, or in ZMM registers (zmm) with a far and a near prefetch.
func q8Rows(name string, zmm bool, doc ...string) {
	TEXT(name, NOSPLIT, "func(w *byte, x *float32, nBlocks int, nRows int, out *float32)")
	Pragma("noescape")
	Doc(doc...)
	wp := Load(Param("w"), GP64())
	x := Load(Param("x"), GP64())
	nb := Load(Param("nBlocks"), GP64())
	nr := Load(Param("nRows"), GP64())
	out := Load(Param("out"), GP64())
	vec, block := YMM, q8Block
	if zmm {
		vec, block = ZMM, q8BlockZ
	}

	const unroll = 4
	acc := make([]VecVirtual, unroll)
	for i := range acc {
		acc[i] = vec()
	}

	row := GP64()
	XORQ(row, row)
	Label("rows")
	CMPQ(row, nr)
	JGE(LabelRef("done"))

	for i := range acc {
		VXORPS(acc[i], acc[i], acc[i])
	}
	xp, n := GP64(), GP64()
	MOVQ(x, xp)
	MOVQ(nb, n)

	Label("loop4")
	CMPQ(n, U8(unroll))
	JL(LabelRef("loop1"))
	// 136 bytes per step: three lines ahead cover it.
	if zmm {
		for l := 0; l < 3; l++ {
			pfI2S(Mem{Base: wp, Disp: i2sRowFar + 64*l})
			PREFETCHT0(Mem{Base: wp, Disp: i2sRowNear + 64*l})
		}
	} else {
		prefetchQuant(wp, 3)
	}
	for u := 0; u < unroll; u++ {
		block(wp, xp, u, acc[u])
	}
	ADDQ(U32(34*unroll), wp)
	ADDQ(U32(128*unroll), xp)
	SUBQ(U8(unroll), n)
	JMP(LabelRef("loop4"))

	Label("loop1")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	if !zmm {
		prefetchQuant(wp, 1)
	}
	block(wp, xp, 0, acc[0])
	ADDQ(U8(34), wp)
	ADDQ(U32(128), xp)
	DECQ(n)
	JMP(LabelRef("loop1"))

	Label("reduce")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	sum := acc[0]
	if zmm {
		sum = YMM()
		VEXTRACTF64X4(U8(1), acc[0], sum)
		VADDPS(sum, acc[0].AsY(), sum)
	}
	s := hsumPSY(sum)
	VMOVSS(s, Mem{Base: out, Index: row, Scale: 4})

	INCQ(row)
	JMP(LabelRef("rows"))

	Label("done")
	VZEROUPPER()
	RET()
}

// bytesY returns a YMM register holding byte b in every byte.
func bytesY(b byte) VecVirtual {
	r := GP32()
	MOVL(U32(uint32(b)*0x01010101), r)
	y := YMM()
	VMOVD(r, y.AsX())
	VPBROADCASTD(y.AsX(), y)
	return y
}

// q6kRowsAVX2: per 128-weight half of a block, ql[0:32], ql[32:64] and
// qh[0:32] give the codes of weights 0-31, 32-63, 64-95 and 96-127 (see
// q6kUnpack) with shifts and masks; minus 32 they are stored as int8 to a
// stack buffer, and widened from there eight at a time. The 16 scales times
// d go to a second buffer, broadcast once per group of 16.
func q6kRowsAVX2() {
	TEXT("q6kRowsAVX2", NOSPLIT, "func(w *byte, x *float32, nBlocks int, nRows int, out *float32)")
	Pragma("noescape")
	Doc("q6kRowsAVX2 sets out[r] to the dot product of Q6_K row r with x for r < nRows;",
		"rows of nBlocks 210-byte blocks lie back to back from w, x holds 256*nBlocks floats.")
	codes := AllocLocal(128)
	scales := AllocLocal(64)
	wp := Load(Param("w"), GP64())
	x := Load(Param("x"), GP64())
	nb := Load(Param("nBlocks"), GP64())
	nr := Load(Param("nRows"), GP64())
	out := Load(Param("out"), GP64())

	m0f, m30, b32 := bytesY(0x0f), bytesY(0x30), bytesY(32)

	const nAcc = 4
	acc := make([]VecVirtual, nAcc)
	for i := range acc {
		acc[i] = YMM()
	}

	row := GP64()
	XORQ(row, row)
	Label("rows")
	CMPQ(row, nr)
	JGE(LabelRef("done"))

	for i := range acc {
		VXORPS(acc[i], acc[i], acc[i])
	}
	xp, n := GP64(), GP64()
	MOVQ(x, xp)
	MOVQ(nb, n)

	Label("blocks")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	prefetchQuant(wp, 4)
	{
		d := YMM()
		VPBROADCASTW(Mem{Base: wp, Disp: 208}, d.AsX())
		VCVTPH2PS(d.AsX(), d)
		for i := 0; i < 2; i++ {
			s := YMM()
			VPMOVSXBD(Mem{Base: wp, Disp: 192 + 8*i}, s)
			VCVTDQ2PS(s, s)
			VMULPS(d, s, s)
			VMOVUPS(s, scales.Offset(32*i))
		}
	}
	for h := 0; h < 2; h++ {
		a, b, hi := YMM(), YMM(), YMM()
		VMOVDQU(Mem{Base: wp, Disp: 64 * h}, a)
		VMOVDQU(Mem{Base: wp, Disp: 64*h + 32}, b)
		VMOVDQU(Mem{Base: wp, Disp: 128 + 32*h}, hi)
		// Weights 32j..32j+31 of the half: low bits from ql (a or b, low or
		// high nibble), bits 4-5 from bits 2j, 2j+1 of qh.
		for j := 0; j < 4; j++ {
			lo, top := YMM(), YMM()
			src := pick(j%2 == 0, a, b)
			if j < 2 {
				VPAND(m0f, src, lo)
			} else {
				VPSRLW(U8(4), src, lo)
				VPAND(m0f, lo, lo)
			}
			switch j {
			case 0:
				VPSLLW(U8(4), hi, top)
				VPAND(m30, top, top)
			case 1:
				VPSLLW(U8(2), hi, top)
				VPAND(m30, top, top)
			case 2:
				VPAND(m30, hi, top)
			case 3:
				VPSRLW(U8(2), hi, top)
				VPAND(m30, top, top)
			}
			VPOR(top, lo, lo)
			VPSUBB(b32, lo, lo)
			VMOVDQU(lo, codes.Offset(32*j))
		}
		for i := 0; i < 8; i++ {
			xo := 4 * (128*h + 16*i)
			t, u := YMM(), YMM()
			VPMOVSXBD(codes.Offset(16*i), t)
			VCVTDQ2PS(t, t)
			VMULPS(Mem{Base: xp, Disp: xo}, t, t)
			VPMOVSXBD(codes.Offset(16*i+8), u)
			VCVTDQ2PS(u, u)
			VFMADD231PS(Mem{Base: xp, Disp: xo + 32}, u, t)
			s := YMM()
			VBROADCASTSS(scales.Offset(4*(8*h+i)), s)
			VFMADD231PS(s, t, acc[i%nAcc])
		}
	}
	ADDQ(U32(210), wp)
	ADDQ(U32(1024), xp)
	DECQ(n)
	JMP(LabelRef("blocks"))

	Label("reduce")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	s := hsumPSY(acc[0])
	VMOVSS(s, Mem{Base: out, Index: row, Scale: 4})

	INCQ(row)
	JMP(LabelRef("rows"))

	Label("done")
	VZEROUPPER()
	RET()
}

// bytesZ returns a ZMM register holding byte b in every byte.
func bytesZ(b byte) VecVirtual {
	r := GP32()
	MOVL(U32(uint32(b)*0x01010101), r)
	z := ZMM()
	VMOVD(r, z.AsX())
	VPBROADCASTD(z.AsX(), z)
	return z
}

// q6kRowsAVX512 is q6kRowsAVX2 with a whole half block per vector: ql[0:64]
// in one register, qh in the low half of another and qh>>2 in its high half,
// so that one pass of shifts and masks yields weights 0-63 (low nibbles, qh
// bits 0-1 and 2-3) and a second weights 64-127 (high nibbles, qh bits 4-5
// and 6-7). The scales are broadcast from the stack by the FMA itself.
func q6kRowsAVX512() {
	TEXT("q6kRowsAVX512", NOSPLIT, "func(w *byte, x *float32, nBlocks int, nRows int, out *float32)")
	Pragma("noescape")
	Doc("q6kRowsAVX512 is q6kRowsAVX2 in AVX-512.")
	codes := AllocLocal(128)
	scales := AllocLocal(64)
	wp := Load(Param("w"), GP64())
	x := Load(Param("x"), GP64())
	nb := Load(Param("nBlocks"), GP64())
	nr := Load(Param("nRows"), GP64())
	out := Load(Param("out"), GP64())

	m0f, m30, b32 := bytesZ(0x0f), bytesZ(0x30), bytesZ(32)

	const nAcc = 4
	acc := make([]VecVirtual, nAcc)
	for i := range acc {
		acc[i] = ZMM()
	}

	row := GP64()
	XORQ(row, row)
	Label("rows")
	CMPQ(row, nr)
	JGE(LabelRef("done"))

	for i := range acc {
		VXORPS(acc[i], acc[i], acc[i])
	}
	xp, n := GP64(), GP64()
	MOVQ(x, xp)
	MOVQ(nb, n)

	Label("blocks")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	prefetchQuant(wp, 4)
	{
		d, s := ZMM(), ZMM()
		VPBROADCASTW(Mem{Base: wp, Disp: 208}, d.AsY())
		VCVTPH2PS(d.AsY(), d)
		VPMOVSXBD(Mem{Base: wp, Disp: 192}, s)
		VCVTDQ2PS(s, s)
		VMULPS(d, s, s)
		VMOVUPS(s, scales)
	}
	for h := 0; h < 2; h++ {
		ql, qh, sh := ZMM(), ZMM(), YMM()
		VMOVDQU64(Mem{Base: wp, Disp: 64 * h}, ql)
		VMOVDQU(Mem{Base: wp, Disp: 128 + 32*h}, qh.AsY())
		VPSRLW(U8(2), qh.AsY(), sh)
		VINSERTI64X4(U8(1), sh, qh, qh)
		// t | (src & 0x0f) is VPTERNLOGD 0xF8 (t, src, m0f).
		lo, hi := ZMM(), ZMM()
		VPSLLW(U8(4), qh, lo)
		VPANDD(m30, lo, lo)
		VPTERNLOGD(U8(0xF8), m0f, ql, lo)
		VPSUBB(b32, lo, lo)
		VMOVDQU64(lo, codes)
		VPSRLW(U8(4), ql, ql)
		VPANDD(m30, qh, hi)
		VPTERNLOGD(U8(0xF8), m0f, ql, hi)
		VPSUBB(b32, hi, hi)
		VMOVDQU64(hi, codes.Offset(64))
		for i := 0; i < 8; i++ {
			t := ZMM()
			VPMOVSXBD(codes.Offset(16*i), t)
			VCVTDQ2PS(t, t)
			VMULPS(Mem{Base: xp, Disp: 4 * (128*h + 16*i)}, t, t)
			VFMADD231PS_BCST(scales.Offset(4*(8*h+i)), t, acc[i%nAcc])
		}
	}
	ADDQ(U32(210), wp)
	ADDQ(U32(1024), xp)
	DECQ(n)
	JMP(LabelRef("blocks"))

	Label("reduce")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	s := hsumPSZ(acc[0])
	VMOVSS(s, Mem{Base: out, Index: row, Scale: 4})

	INCQ(row)
	JMP(LabelRef("rows"))

	Label("done")
	VZEROUPPER()
	RET()
}

// ---------------------------------------------------------------------------
// float32 dot products.

func dotF32AVX512() {
	TEXT("dotF32AVX512", NOSPLIT, "func(a, b *float32, n int) float32")
	Pragma("noescape")
	Doc("dotF32AVX512 returns sum_k a[k]*b[k] for k < n.")
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	n := Load(Param("n"), GP64())

	k := K()
	rem := GP64()
	MOVQ(n, rem)
	ANDQ(U8(15), rem)
	tailMask(rem, k)

	const unroll = 4
	acc := make([]VecVirtual, unroll)
	for i := range acc {
		acc[i] = ZMM()
		VXORPS(acc[i], acc[i], acc[i])
	}

	Label("loop4")
	CMPQ(n, U8(16*unroll))
	JL(LabelRef("loop1"))
	for u := 0; u < unroll; u++ {
		t := ZMM()
		VMOVUPS(Mem{Base: a, Disp: 64 * u}, t)
		VFMADD231PS(Mem{Base: b, Disp: 64 * u}, t, acc[u])
	}
	ADDQ(U32(64*unroll), a)
	ADDQ(U32(64*unroll), b)
	SUBQ(U8(16*unroll), n)
	JMP(LabelRef("loop4"))

	Label("loop1")
	CMPQ(n, U8(16))
	JL(LabelRef("tail"))
	{
		t := ZMM()
		VMOVUPS(Mem{Base: a}, t)
		VFMADD231PS(Mem{Base: b}, t, acc[0])
	}
	ADDQ(U8(64), a)
	ADDQ(U8(64), b)
	SUBQ(U8(16), n)
	JMP(LabelRef("loop1"))

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	{
		t, u := ZMM(), ZMM()
		VMOVUPS_Z(Mem{Base: a}, k, t)
		VMOVUPS_Z(Mem{Base: b}, k, u)
		VFMADD231PS(u, t, acc[1])
	}

	Label("reduce")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	s := hsumPSZ(acc[0])
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

func dotF32AVX2() {
	TEXT("dotF32AVX2", NOSPLIT, "func(a, b *float32, n int) float32")
	Pragma("noescape")
	Doc("dotF32AVX2 returns sum_k a[k]*b[k] for k < n; n is a multiple of 8.")
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	n := Load(Param("n"), GP64())

	const unroll = 4
	acc := make([]VecVirtual, unroll)
	for i := range acc {
		acc[i] = YMM()
		VXORPS(acc[i], acc[i], acc[i])
	}

	Label("loop4")
	CMPQ(n, U8(8*unroll))
	JL(LabelRef("loop1"))
	for u := 0; u < unroll; u++ {
		t := YMM()
		VMOVUPS(Mem{Base: a, Disp: 32 * u}, t)
		VFMADD231PS(Mem{Base: b, Disp: 32 * u}, t, acc[u])
	}
	ADDQ(U8(32*unroll), a)
	ADDQ(U8(32*unroll), b)
	SUBQ(U8(8*unroll), n)
	JMP(LabelRef("loop4"))

	Label("loop1")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	{
		t := YMM()
		VMOVUPS(Mem{Base: a}, t)
		VFMADD231PS(Mem{Base: b}, t, acc[0])
	}
	ADDQ(U8(32), a)
	ADDQ(U8(32), b)
	SUBQ(U8(8), n)
	JMP(LabelRef("loop1"))

	Label("reduce")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	s := hsumPSY(acc[0])
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

func axpyF32AVX2() {
	TEXT("axpyF32AVX2", NOSPLIT, "func(a float32, x, y *float32, n int)")
	Pragma("noescape")
	Doc("axpyF32AVX2 sets y[k] += a*x[k] for k < n (a fused multiply-add per element); n is a multiple of 8.")
	av := YMM()
	VBROADCASTSS(NewParamAddr("a", 0), av)
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())

	const unroll = 4
	Label("loop4")
	CMPQ(n, U8(8*unroll))
	JL(LabelRef("loop1"))
	for u := 0; u < unroll; u++ {
		t := YMM()
		VMOVUPS(Mem{Base: y, Disp: 32 * u}, t)
		VFMADD231PS(Mem{Base: x, Disp: 32 * u}, av, t)
		VMOVUPS(t, Mem{Base: y, Disp: 32 * u})
	}
	ADDQ(U8(32*unroll), x)
	ADDQ(U8(32*unroll), y)
	SUBQ(U8(8*unroll), n)
	JMP(LabelRef("loop4"))

	Label("loop1")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	{
		t := YMM()
		VMOVUPS(Mem{Base: y}, t)
		VFMADD231PS(Mem{Base: x}, av, t)
		VMOVUPS(t, Mem{Base: y})
	}
	ADDQ(U8(32), x)
	ADDQ(U8(32), y)
	SUBQ(U8(8), n)
	JMP(LabelRef("loop1"))

	Label("done")
	VZEROUPPER()
	RET()
}

// Attention over a KV cache: scores of one query against strided key rows,
// and weighted sums of strided value rows. The cache rows hold float32
// (F32 caches) or F16 values (converted with VCVTPH2PS as they are loaded).

// kvElem describes the cache element type of an attention kernel.
type kvElem struct {
	goType string // "float32" or "uint16"
	size   int    // bytes per element
}

var (
	kvF32 = kvElem{"float32", 4}
	kvF16 = kvElem{"uint16", 2}
)

// load8 loads 8 cache elements at m as float32 into t, converting F16.
func (e kvElem) load8(m Mem, t VecVirtual) {
	if e.size == 2 {
		VCVTPH2PS(m, t)
	} else {
		VMOVUPS(m, t)
	}
}

func dotsF32AVX2() { dotsAVX2("dotsF32AVX2", kvF32) }

func dotsAVX2(name string, e kvElem) {
	TEXT(name, NOSPLIT, "func(q *float32, k *"+e.goType+", stride int, n int, hd int, out *float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets out[j] = sum_d q[d]*k[j*stride/%d+d] for j < n, d < hd", name, e.size),
		"(stride in bytes); hd is a multiple of 8. Each dot product accumulates in",
		"float32 with fused multiply-adds in 8 lanes per 32 elements, lane sums added",
		"pairwise.")
	q := Load(Param("q"), GP64())
	kp := Load(Param("k"), GP64())
	stride := Load(Param("stride"), GP64())
	n := Load(Param("n"), GP64())
	hd := Load(Param("hd"), GP64())
	out := Load(Param("out"), GP64())

	acc := make([]VecVirtual, 4)
	for i := range acc {
		acc[i] = YMM()
	}
	j := GP64()
	XORQ(j, j)
	Label("keys")
	CMPQ(j, n)
	JGE(LabelRef("done"))
	for i := range acc {
		VXORPS(acc[i], acc[i], acc[i])
	}
	d, qp, krow := GP64(), GP64(), GP64()
	MOVQ(hd, d)
	MOVQ(q, qp)
	MOVQ(kp, krow)
	Label("loop4")
	CMPQ(d, U8(32))
	JL(LabelRef("loop1"))
	for u := 0; u < 4; u++ {
		t := YMM()
		e.load8(Mem{Base: krow, Disp: 8 * e.size * u}, t)
		VFMADD231PS(Mem{Base: qp, Disp: 32 * u}, t, acc[u])
	}
	ADDQ(U8(128), qp)
	ADDQ(U8(32*e.size), krow)
	SUBQ(U8(32), d)
	JMP(LabelRef("loop4"))
	Label("loop1")
	TESTQ(d, d)
	JZ(LabelRef("reduce"))
	{
		t := YMM()
		e.load8(Mem{Base: krow}, t)
		VFMADD231PS(Mem{Base: qp}, t, acc[0])
	}
	ADDQ(U8(32), qp)
	ADDQ(U8(8*e.size), krow)
	SUBQ(U8(8), d)
	JMP(LabelRef("loop1"))
	Label("reduce")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	sum := hsumPSY(acc[0])
	VMOVSS(sum, Mem{Base: out, Index: j, Scale: 4})
	ADDQ(stride, kp)
	INCQ(j)
	JMP(LabelRef("keys"))
	Label("done")
	VZEROUPPER()
	RET()
}

func axpysF32AVX2() { axpysAVX2("axpysF32AVX2", kvF32) }
func axpysF16AVX2() { axpysAVX2("axpysF16AVX2", kvF16) }

func axpysAVX2(name string, e kvElem) {
	TEXT(name, NOSPLIT, "func(p *float32, v *"+e.goType+", stride int, n int, hd int, acc *float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets acc[d] += p[j]*v[j*stride/%d+d] for j = 0..n-1 in order, d < hd", name, e.size),
		"(stride in bytes; one fused multiply-add per term); hd is a multiple of 8.")
	p := Load(Param("p"), GP64())
	vp := Load(Param("v"), GP64())
	stride := Load(Param("stride"), GP64())
	n := Load(Param("n"), GP64())
	hd := Load(Param("hd"), GP64())
	accp := Load(Param("acc"), GP64())

	// Columns in chunks of 64 (eight independent accumulators, enough to
	// cover the latency of the fused multiply-adds), then of 8.
	for _, c := range []struct {
		label string
		regs  int
	}{{"chunk8", 8}, {"chunk1", 1}} {
		next := map[string]string{"chunk8": "chunk1", "chunk1": "done"}[c.label]
		a := make([]VecVirtual, c.regs)
		for i := range a {
			a[i] = YMM()
		}
		Label(c.label)
		CMPQ(hd, U8(8*c.regs))
		JL(LabelRef(next))
		for u := range a {
			VMOVUPS(Mem{Base: accp, Disp: 32 * u}, a[u])
		}
		j, vrow, ahead := GP64(), GP64(), GP64()
		XORQ(j, j)
		MOVQ(vp, vrow)
		// Value rows lie stride bytes apart in a cache that has usually
		// left the caches since the last token: fetch the row 8 keys ahead.
		MOVQ(stride, ahead)
		SHLQ(U8(3), ahead)
		Label(c.label + "keys")
		CMPQ(j, n)
		JGE(LabelRef(c.label + "store"))
		PREFETCHT0(Mem{Base: vrow, Index: ahead, Scale: 1})
		pj := YMM()
		VBROADCASTSS(Mem{Base: p, Index: j, Scale: 4}, pj)
		for u := range a {
			if e.size == 4 {
				VFMADD231PS(Mem{Base: vrow, Disp: 32 * u}, pj, a[u])
				continue
			}
			t := YMM()
			e.load8(Mem{Base: vrow, Disp: 16 * u}, t)
			VFMADD231PS(t, pj, a[u])
		}
		ADDQ(stride, vrow)
		INCQ(j)
		JMP(LabelRef(c.label + "keys"))
		Label(c.label + "store")
		for u := range a {
			VMOVUPS(a[u], Mem{Base: accp, Disp: 32 * u})
		}
		ADDQ(U32(32*c.regs), accp)
		ADDQ(U32(8*e.size*c.regs), vp)
		SUBQ(U8(8*c.regs), hd)
		JMP(LabelRef(c.label))
	}
	Label("done")
	VZEROUPPER()
	RET()
}

// axpys4F16AVX512 emits axpys4F16x<cols>AVX512 (cols 16, 32 or 64):
// axpysF16AVX2 for four probability rows over the same cols value
// columns, each value row converted once for the four.
func axpys4F16AVX512(cols int) {
	name := fmt.Sprintf("axpys4F16x%dAVX512", cols)
	TEXT(name, NOSPLIT, "func(p *float32, pStride int, v *uint16, stride int, n int, acc *float32, accStride int)")
	Pragma("noescape")
	Doc(name+" sets acc[t*accStride+d] += p[t*pStride+j]*v[j*stride/2+d] for j = 0..n-1",
		fmt.Sprintf("in order, t < 4, d < %d (stride in bytes, pStride and accStride in elements; one", cols),
		"fused multiply-add per term, as axpysF16AVX2 computes each column).")
	regs := cols / 16
	p0 := Load(Param("p"), GP64())
	ps := Load(Param("pStride"), GP64())
	vrow := Load(Param("v"), GP64())
	stride := Load(Param("stride"), GP64())
	n := Load(Param("n"), GP64())
	accp := Load(Param("acc"), GP64())
	as := Load(Param("accStride"), GP64())
	SHLQ(U8(2), ps)
	SHLQ(U8(2), as)

	pr := []Register{p0, GP64(), GP64(), GP64()}
	ar := []Register{accp, GP64(), GP64(), GP64()}
	for t := 1; t < 4; t++ {
		LEAQ(Mem{Base: pr[t-1], Index: ps, Scale: 1}, pr[t])
		LEAQ(Mem{Base: ar[t-1], Index: as, Scale: 1}, ar[t])
	}
	a := make([][]VecVirtual, 4)
	for t := range a {
		a[t] = make([]VecVirtual, regs)
		for u := range a[t] {
			a[t][u] = ZMM()
			VMOVUPS(Mem{Base: ar[t], Disp: 64 * u}, a[t][u])
		}
	}
	j, ahead := GP64(), GP64()
	XORQ(j, j)
	// The row 64 keys ahead into L2 and the row 4 ahead into L1, all its
	// lines: over a cold cache of 2,048 positions (2B-4T, 2 threads,
	// BenchmarkAttentionDecode .../cold) a layer took 518-557 µs against
	// 565-634 with the row 16 ahead into L1 alone (which had gained 5%
	// over 8 rows in a decode step).
	MOVQ(stride, ahead)
	SHLQ(U8(6), ahead)
	near := GP64()
	MOVQ(stride, near)
	SHLQ(U8(2), near)
	Label("keys")
	CMPQ(j, n)
	JGE(LabelRef("store"))
	for l := 0; l < (2*cols+63)/64; l++ {
		PREFETCHT1(Mem{Base: vrow, Index: ahead, Scale: 1, Disp: 64 * l})
		PREFETCHT0(Mem{Base: vrow, Index: near, Scale: 1, Disp: 64 * l})
	}
	vv := make([]VecVirtual, regs)
	for u := range vv {
		vv[u] = ZMM()
		VCVTPH2PS(Mem{Base: vrow, Disp: 32 * u}, vv[u])
	}
	for t := range a {
		pj := ZMM()
		VBROADCASTSS(Mem{Base: pr[t], Index: j, Scale: 4}, pj)
		for u := range vv {
			VFMADD231PS(vv[u], pj, a[t][u])
		}
	}
	ADDQ(stride, vrow)
	INCQ(j)
	JMP(LabelRef("keys"))
	Label("store")
	for t := range a {
		for u := range a[t] {
			VMOVUPS(a[t][u], Mem{Base: ar[t], Disp: 64 * u})
		}
	}
	VZEROUPPER()
	RET()
}

func f32ToF16AVX2() {
	TEXT("f32ToF16AVX2", NOSPLIT, "func(dst *uint16, src *float32, n int)")
	Pragma("noescape")
	Doc("f32ToF16AVX2 sets dst[k] = f16(src[k]) for k < n, rounding to nearest even;",
		"n is a multiple of 8.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	Label("loop")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	t := YMM()
	VMOVUPS(Mem{Base: src}, t)
	VCVTPS2PH(U8(0), t, Mem{Base: dst})
	ADDQ(U8(32), src)
	ADDQ(U8(16), dst)
	SUBQ(U8(8), n)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

func roundF16AVX2() {
	TEXT("roundF16AVX2", NOSPLIT, "func(dst, src *float32, n int)")
	Pragma("noescape")
	Doc("roundF16AVX2 sets dst[k] = f32(f16(src[k])) for k < n (nearest, ties to even);",
		"n is a multiple of 8.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	Label("loop")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	t, h := YMM(), XMM()
	VMOVUPS(Mem{Base: src}, t)
	VCVTPS2PH(U8(0), t, h)
	VCVTPH2PS(h, t)
	VMOVUPS(t, Mem{Base: dst})
	ADDQ(U8(32), src)
	ADDQ(U8(32), dst)
	SUBQ(U8(8), n)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

func scaleMaxF32AVX2() {
	TEXT("scaleMaxF32AVX2", NOSPLIT, "func(s *float32, n int, scale float32) float32")
	Pragma("noescape")
	Doc("scaleMaxF32AVX2 sets s[k] *= scale for k < n and returns the largest result",
		"(VMAXPS order: a NaN in s is not reported); n is a positive multiple of 8.")
	p := Load(Param("s"), GP64())
	n := Load(Param("n"), GP64())
	sv, mx := YMM(), YMM()
	VBROADCASTSS(NewParamAddr("scale", 16), sv)
	VMULPS(Mem{Base: p}, sv, mx)
	Label("loop")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	t := YMM()
	VMULPS(Mem{Base: p}, sv, t)
	VMOVUPS(t, Mem{Base: p})
	VMAXPS(t, mx, mx)
	ADDQ(U8(32), p)
	SUBQ(U8(8), n)
	JMP(LabelRef("loop"))
	Label("reduce")
	x := XMM()
	VEXTRACTF128(U8(1), mx, x)
	VMAXPS(x, mx.AsX(), x)
	u := XMM()
	VPERMILPS(U8(0x4E), x, u)
	VMAXPS(u, x, x)
	VPERMILPS(U8(0xB1), x, u)
	VMAXPS(u, x, x)
	VZEROUPPER()
	Store(x, ReturnIndex(0))
	RET()
}

func expSubF32AVX2() {
	TEXT("expSubF32AVX2", NOSPLIT, "func(s *float32, n int, mx float32) float64")
	Pragma("noescape")
	Doc("expSubF32AVX2 sets s[k] = expf(s[k]-mx) for k < n, with the operations of",
		"cpu's scalar expf in the same order (no fused multiply-adds), and returns",
		"the sum of the results in float64 (8 partial sums); n is a multiple of 8.")
	p := Load(Param("s"), GP64())
	n := Load(Param("n"), GP64())
	mx := YMM()
	VBROADCASTSS(NewParamAddr("mx", 16), mx)
	c := func(i int) Mem { return expConsts.Offset(4 * i) }
	log2e, half, c1, c2 := YMM(), YMM(), YMM(), YMM()
	VBROADCASTSS(c(0), log2e)
	VBROADCASTSS(c(1), half)
	VBROADCASTSS(c(2), c1)
	VBROADCASTSS(c(3), c2)
	one, lim := YMM(), YMM()
	VBROADCASTSS(c(10), one)
	VBROADCASTSS(c(11), lim)
	bias := YMM()
	{
		r := GP32()
		MOVL(U32(127), r)
		x := XMM()
		VMOVD(r, x)
		VPBROADCASTD(x, bias)
	}
	sumLo, sumHi := YMM(), YMM()
	VXORPD(sumLo, sumLo, sumLo)
	VXORPD(sumHi, sumHi, sumHi)

	Label("loop")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	x, fn, r, z, y, t := YMM(), YMM(), YMM(), YMM(), YMM(), YMM()
	VMOVUPS(Mem{Base: p}, x)
	VSUBPS(mx, x, x)
	// n := int32(x*log2e - 0.5), truncating
	VMULPS(log2e, x, t)
	VSUBPS(half, t, t)
	ni := YMM()
	VCVTTPS2DQ(t, ni)
	VCVTDQ2PS(ni, fn)
	// r := x - fn*c1 - fn*c2
	VMULPS(c1, fn, t)
	VSUBPS(t, x, r)
	VMULPS(c2, fn, t)
	VSUBPS(t, r, r)
	VMULPS(r, r, z)
	// y := (((((p0*r+p1)*r+p2)*r+p3)*r+p4)*r+p5)*z + r + 1
	VBROADCASTSS(c(4), y)
	VMULPS(r, y, y)
	for i := 5; i <= 9; i++ {
		pc := YMM()
		VBROADCASTSS(c(i), pc) // a memory operand of VADDPS would load 8 floats
		VADDPS(pc, y, y)
		if i < 9 {
			VMULPS(r, y, y)
		}
	}
	VMULPS(z, y, y)
	VADDPS(r, y, y)
	VADDPS(one, y, y)
	// y * 2^n
	VPADDD(bias, ni, ni)
	VPSLLD(U8(23), ni, ni)
	VMULPS(ni, y, y)
	// 0 below the limit
	m := YMM()
	VCMPPS(U8(1), lim, x, m) // x < lim (LT_OS)
	VANDNPS(y, m, y)
	VMOVUPS(y, Mem{Base: p})
	lo, hi := YMM(), YMM()
	VCVTPS2PD(y.AsX(), lo)
	VEXTRACTF128(U8(1), y, t.AsX())
	VCVTPS2PD(t.AsX(), hi)
	VADDPD(lo, sumLo, sumLo)
	VADDPD(hi, sumHi, sumHi)
	ADDQ(U8(32), p)
	SUBQ(U8(8), n)
	JMP(LabelRef("loop"))

	Label("reduce")
	VADDPD(sumHi, sumLo, sumLo)
	h := XMM()
	VEXTRACTF128(U8(1), sumLo, h)
	VADDPD(h, sumLo.AsX(), h)
	u := XMM()
	VPERMILPD(U8(1), h, u)
	VADDSD(u, h, h)
	VZEROUPPER()
	Store(h, ReturnIndex(0))
	RET()
}

func scaleF32AVX2() {
	TEXT("scaleF32AVX2", NOSPLIT, "func(dst, x *float32, s float32, n int)")
	Pragma("noescape")
	Doc("scaleF32AVX2 sets dst[k] = x[k]*s for k < n; n is a multiple of 8.")
	dst := Load(Param("dst"), GP64())
	x := Load(Param("x"), GP64())
	sv := YMM()
	VBROADCASTSS(NewParamAddr("s", 16), sv)
	n := Load(Param("n"), GP64())
	elementwise("", n, []Register{dst, x}, func(off int) {
		t := YMM()
		VMULPS(Mem{Base: x, Disp: off}, sv, t)
		VMOVUPS(t, Mem{Base: dst, Disp: off})
	})
}

// ---------------------------------------------------------------------------
// Elementwise helpers of the norms and the feed-forward block.

func sumSqF64AVX2() {
	TEXT("sumSqF64AVX2", NOSPLIT, "func(x *float32, n int) float64")
	Pragma("noescape")
	Doc("sumSqF64AVX2 returns sum_k float64(x[k])^2 for k < n, accumulated in float64",
		"(16 partial sums); n is a multiple of 16.")
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	acc := make([]VecVirtual, 4)
	for i := range acc {
		acc[i] = YMM()
		VXORPD(acc[i], acc[i], acc[i])
	}
	Label("loop")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	for u := 0; u < 4; u++ {
		t := YMM()
		VCVTPS2PD(Mem{Base: x, Disp: 16 * u}, t)
		VFMADD231PD(t, t, acc[u])
	}
	ADDQ(U8(64), x)
	SUBQ(U8(16), n)
	JMP(LabelRef("loop"))
	Label("reduce")
	VADDPD(acc[1], acc[0], acc[0])
	VADDPD(acc[3], acc[2], acc[2])
	VADDPD(acc[2], acc[0], acc[0])
	hi := XMM()
	VEXTRACTF128(U8(1), acc[0], hi)
	VADDPD(hi, acc[0].AsX(), hi)
	t := XMM()
	VPERMILPD(U8(1), hi, t)
	VADDSD(t, hi, hi)
	VZEROUPPER()
	Store(hi, ReturnIndex(0))
	RET()
}

// elementwise emits a loop over n float32 elements (n a multiple of 8) in
// steps of 32 then 8, calling body with the byte offset of each 8-element
// vector.
func elementwise(prefix string, n Register, ptrs []Register, body func(off int)) {
	Label(prefix + "loop4")
	CMPQ(n, U8(32))
	JL(LabelRef(prefix + "loop1"))
	for u := 0; u < 4; u++ {
		body(32 * u)
	}
	for _, p := range ptrs {
		ADDQ(U8(128), p)
	}
	SUBQ(U8(32), n)
	JMP(LabelRef(prefix + "loop4"))
	Label(prefix + "loop1")
	TESTQ(n, n)
	JZ(LabelRef(prefix + "done"))
	body(0)
	for _, p := range ptrs {
		ADDQ(U8(32), p)
	}
	SUBQ(U8(8), n)
	JMP(LabelRef(prefix + "loop1"))
	Label(prefix + "done")
	VZEROUPPER()
	RET()
}

func scaleMulF32AVX2() {
	TEXT("scaleMulF32AVX2", NOSPLIT, "func(dst, x, w *float32, s float32, n int)")
	Pragma("noescape")
	Doc("scaleMulF32AVX2 sets dst[k] = (x[k]*s)*w[k] for k < n, rounding after each",
		"product; n is a multiple of 8.")
	dst := Load(Param("dst"), GP64())
	x := Load(Param("x"), GP64())
	w := Load(Param("w"), GP64())
	sv := YMM()
	VBROADCASTSS(NewParamAddr("s", 24), sv)
	n := Load(Param("n"), GP64())
	elementwise("", n, []Register{dst, x, w}, func(off int) {
		t := YMM()
		VMULPS(Mem{Base: x, Disp: off}, sv, t)
		VMULPS(Mem{Base: w, Disp: off}, t, t)
		VMOVUPS(t, Mem{Base: dst, Disp: off})
	})
}

func addF32AVX2() {
	TEXT("addF32AVX2", NOSPLIT, "func(dst, a, b *float32, n int)")
	Pragma("noescape")
	Doc("addF32AVX2 sets dst[k] = a[k]+b[k] for k < n; n is a multiple of 8.")
	dst := Load(Param("dst"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	n := Load(Param("n"), GP64())
	elementwise("", n, []Register{dst, a, b}, func(off int) {
		t := YMM()
		VMOVUPS(Mem{Base: a, Disp: off}, t)
		VADDPS(Mem{Base: b, Disp: off}, t, t)
		VMOVUPS(t, Mem{Base: dst, Disp: off})
	})
}

func relu2MulF32AVX2() {
	TEXT("relu2MulF32AVX2", NOSPLIT, "func(dst, gate, up *float32, n int)")
	Pragma("noescape")
	Doc("relu2MulF32AVX2 sets dst[k] = (r*r)*up[k] with r = max(gate[k], 0) (NaN stays NaN)",
		"for k < n; n is a multiple of 8.")
	dst := Load(Param("dst"), GP64())
	g := Load(Param("gate"), GP64())
	u := Load(Param("up"), GP64())
	n := Load(Param("n"), GP64())
	zero := YMM()
	VXORPS(zero, zero, zero)
	elementwise("", n, []Register{dst, g, u}, func(off int) {
		t := YMM()
		// Intel VMAXPS returns its second source when either is NaN: make
		// that g so a NaN passes through, as in Go's max.
		VMAXPS(Mem{Base: g, Disp: off}, zero, t)
		VMULPS(t, t, t)
		VMULPS(Mem{Base: u, Disp: off}, t, t)
		VMOVUPS(t, Mem{Base: dst, Disp: off})
	})
}

func dequantI32AVX2() {
	TEXT("dequantI32AVX2", NOSPLIT, "func(dst *float32, dots *int32, sum int32, div, mul float32, n int)")
	Pragma("noescape")
	Doc("dequantI32AVX2 sets dst[k] = (float32(dots[k]-sum)/div)*mul for k < n, rounding",
		"after each operation; n is a multiple of 8.")
	dst := Load(Param("dst"), GP64())
	dots := Load(Param("dots"), GP64())
	sv, dv, mv := YMM(), YMM(), YMM()
	{
		r, x := Load(Param("sum"), GP32()), XMM()
		VMOVD(r, x)
		VPBROADCASTD(x, sv)
	}
	VBROADCASTSS(NewParamAddr("div", 20), dv)
	VBROADCASTSS(NewParamAddr("mul", 24), mv)
	n := Load(Param("n"), GP64())
	elementwise("", n, []Register{dst, dots}, func(off int) {
		t := YMM()
		VMOVDQU(Mem{Base: dots, Disp: off}, t)
		VPSUBD(sv, t, t)
		VCVTDQ2PS(t, t)
		VDIVPS(dv, t, t)
		VMULPS(mv, t, t)
		VMOVUPS(t, Mem{Base: dst, Disp: off})
	})
}

// ---------------------------------------------------------------------------
// Activation helpers.

func sumI8AVX2() {
	TEXT("sumI8AVX2", NOSPLIT, "func(q *int8, n int) int64")
	Pragma("noescape")
	Doc("sumI8AVX2 returns sum_k (q[k] + 128) for k < n; n is a multiple of 32.")
	q := Load(Param("q"), GP64())
	n := Load(Param("n"), GP64())

	bias, zero := YMM(), YMM()
	tmp := GP32()
	MOVL(U32(0x80808080), tmp)
	VMOVD(tmp, bias.AsX())
	VPBROADCASTD(bias.AsX(), bias)
	VPXOR(zero, zero, zero)
	acc := []VecVirtual{YMM(), YMM()}
	VPXOR(acc[0], acc[0], acc[0])
	VPXOR(acc[1], acc[1], acc[1])

	Label("loop2")
	CMPQ(n, U8(64))
	JL(LabelRef("loop1"))
	for u := 0; u < 2; u++ {
		t := YMM()
		VPXOR(Mem{Base: q, Disp: 32 * u}, bias, t)
		VPSADBW(zero, t, t)
		VPADDQ(t, acc[u], acc[u])
	}
	ADDQ(U8(64), q)
	SUBQ(U8(64), n)
	JMP(LabelRef("loop2"))

	Label("loop1")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	{
		t := YMM()
		VPXOR(Mem{Base: q}, bias, t)
		VPSADBW(zero, t, t)
		VPADDQ(t, acc[0], acc[0])
	}

	Label("reduce")
	VPADDQ(acc[1], acc[0], acc[0])
	x := XMM()
	VEXTRACTI128(U8(1), acc[0], x)
	VPADDQ(x, acc[0].AsX(), x)
	t := XMM()
	VPSHUFD(U8(0x4E), x, t)
	VPADDQ(t, x, x)
	r := GP64()
	VMOVQ(x, r)
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func absMaxAVX2() {
	TEXT("absMaxAVX2", NOSPLIT, "func(x *float32, n int) float32")
	Pragma("noescape")
	Doc("absMaxAVX2 returns max(0, max_k |x[k]|) for k < n; n is a multiple of 8.")
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())

	abs := YMM()
	tmp := GP32()
	MOVL(U32(0x7FFFFFFF), tmp)
	VMOVD(tmp, abs.AsX())
	VPBROADCASTD(abs.AsX(), abs)
	acc := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for i := range acc {
		VXORPS(acc[i], acc[i], acc[i])
	}

	Label("loop4")
	CMPQ(n, U8(32))
	JL(LabelRef("loop1"))
	for u := 0; u < 4; u++ {
		t := YMM()
		VANDPS(Mem{Base: x, Disp: 32 * u}, abs, t)
		VMAXPS(t, acc[u], acc[u])
	}
	SUBQ(I8(-128), x)
	SUBQ(U8(32), n)
	JMP(LabelRef("loop4"))

	Label("loop1")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	{
		t := YMM()
		VANDPS(Mem{Base: x}, abs, t)
		VMAXPS(t, acc[0], acc[0])
	}
	ADDQ(U8(32), x)
	SUBQ(U8(8), n)
	JMP(LabelRef("loop1"))

	Label("reduce")
	VMAXPS(acc[1], acc[0], acc[0])
	VMAXPS(acc[3], acc[2], acc[2])
	VMAXPS(acc[2], acc[0], acc[0])
	m := XMM()
	VEXTRACTF128(U8(1), acc[0], m)
	VMAXPS(m, acc[0].AsX(), m)
	t := XMM()
	VPERMILPS(U8(0x4E), m, t)
	VMAXPS(t, m, m)
	VPERMILPS(U8(0xB1), m, t)
	VMAXPS(t, m, m)
	VZEROUPPER()
	Store(m, ReturnIndex(0))
	RET()
}

func quantAVX2() {
	TEXT("quantAVX2", NOSPLIT, "func(x *float32, n int, s float32, q *int8) int32")
	Pragma("noescape")
	Doc("quantAVX2 sets q[k] = clamp(roundHalfEven(x[k]*s), -128, 127) for k < n and returns",
		"the sum of q; n is a multiple of 32. The product is a float32 multiply and the",
		"conversion uses the MXCSR rounding mode (round half to even).")
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	q := Load(Param("q"), GP64())
	sv := YMM()
	sp, err := Param("s").Resolve()
	if err != nil {
		panic(err)
	}
	VBROADCASTSS(sp.Addr, sv)

	hi, lo := YMM(), YMM()
	tmp := GP32()
	MOVL(U32(127), tmp)
	VMOVD(tmp, hi.AsX())
	VPBROADCASTD(hi.AsX(), hi)
	MOVL(U32(0xFFFFFF80), tmp)
	VMOVD(tmp, lo.AsX())
	VPBROADCASTD(lo.AsX(), lo)
	perm := YMM()
	VMOVDQU(permPack, perm)
	sum := YMM()
	VPXOR(sum, sum, sum)

	Label("loop")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	var v [4]VecVirtual
	for u := 0; u < 4; u++ {
		v[u] = YMM()
		VMULPS(Mem{Base: x, Disp: 32 * u}, sv, v[u])
		VCVTPS2DQ(v[u], v[u])
		VPMINSD(hi, v[u], v[u])
		VPMAXSD(lo, v[u], v[u])
		VPADDD(v[u], sum, sum)
	}
	VPACKSSDW(v[1], v[0], v[0])
	VPACKSSDW(v[3], v[2], v[2])
	VPACKSSWB(v[2], v[0], v[0])
	VPERMD(v[0], perm, v[0])
	VMOVDQU(v[0], Mem{Base: q})
	SUBQ(I8(-128), x)
	ADDQ(U8(32), q)
	SUBQ(U8(32), n)
	JMP(LabelRef("loop"))

	Label("reduce")
	r := hsumDY(sum)
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

// ---------------------------------------------------------------------------
// Memory bandwidth probe.

func streamSumAVX2()   { streamSum("streamSumAVX2", 32) }
func streamSumAVX512() { streamSum("streamSumAVX512", 64) }

// streamSum emits a bandwidth probe with vectors of width bytes (32: AVX2,
// 64: AVX-512): eight vector loads and one prefetch per 64-byte line per
// iteration.
func streamSum(name string, width int) {
	const unroll = 8
	TEXT(name, NOSPLIT, "func(p *byte, n int) uint64")
	Pragma("noescape")
	Doc(name+" returns the wrapping sum of the little-endian uint64 words of p[:n];",
		fmt.Sprintf("n is a multiple of %d.", unroll*width))
	p := Load(Param("p"), GP64())
	n := Load(Param("n"), GP64())
	acc := make([]VecVirtual, 4)
	for i := range acc {
		if width == 64 {
			acc[i] = ZMM()
			VPXORQ(acc[i], acc[i], acc[i])
		} else {
			acc[i] = YMM()
			VPXOR(acc[i], acc[i], acc[i])
		}
	}
	Label("loop")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	for l := 0; l < unroll*width/64; l++ {
		pfStream(Mem{Base: p, Disp: streamPrefetch + 64*l})
	}
	for u := 0; u < unroll; u++ {
		VPADDQ(Mem{Base: p, Disp: width * u}, acc[u%4], acc[u%4])
	}
	ADDQ(U32(width*unroll), p)
	SUBQ(U32(width*unroll), n)
	JMP(LabelRef("loop"))

	Label("reduce")
	VPADDQ(acc[1], acc[0], acc[0])
	VPADDQ(acc[3], acc[2], acc[2])
	VPADDQ(acc[2], acc[0], acc[0])
	y := acc[0]
	if width == 64 {
		y = YMM()
		VEXTRACTI64X4(U8(1), acc[0], y)
		VPADDQ(y, acc[0].AsY(), y)
	}
	x := XMM()
	VEXTRACTI128(U8(1), y, x)
	VPADDQ(x, y.AsX(), x)
	t := XMM()
	VPSHUFD(U8(0x4E), x, t)
	VPADDQ(t, x, x)
	r := GP64()
	VMOVQ(x, r)
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}
