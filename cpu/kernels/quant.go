package kernels

import "fmt"

// Block sizes of the quantized float types the LM head may use.
const (
	Q8Block  = 32  // weights per Q8_0 block
	Q8Bytes  = 34  // fp16 d, 32 int8
	Q6KBlock = 256 // weights per Q6_K block
	Q6KBytes = 210 // ql[128], qh[64], scales[16] int8, fp16 d (ggml's layout)
)

// DotQ8_0Rows sets out[n], for n < len(out), to the dot product of Q8_0
// weight row n with x: rows of len(x)/32 blocks lie back to back in w, and
// each block adds d * sum_i q[i]*x[i], the block sum accumulated in float32.
// len(x) must be a multiple of 32.
func DotQ8_0Rows(w []byte, x []float32, out []float32) {
	checkQuantRows("DotQ8_0Rows", len(w), len(x), len(out), Q8Block, Q8Bytes)
	if len(out) == 0 {
		return
	}
	if len(x) == 0 {
		clear(out)
		return
	}
	cur.q8Rows(w, x, out)
}

// DotQ6KRows is DotQ8_0Rows for Q6_K weights: each group of 16 weights adds
// (d*scale) * sum_i (code[i]-32)*x[i]. len(x) must be a multiple of 256.
func DotQ6KRows(w []byte, x []float32, out []float32) {
	checkQuantRows("DotQ6KRows", len(w), len(x), len(out), Q6KBlock, Q6KBytes)
	if len(out) == 0 {
		return
	}
	if len(x) == 0 {
		clear(out)
		return
	}
	cur.q6kRows(w, x, out)
}

func checkQuantRows(fn string, haveW, k, nRows, block, blockBytes int) {
	if k%block != 0 {
		panic(fmt.Sprintf("kernels: %s row length %d is not a multiple of %d", fn, k, block))
	}
	if need := nRows * (k / block) * blockBytes; haveW < need {
		panic(fmt.Sprintf("kernels: %s has %d weight bytes, want %d", fn, haveW, need))
	}
}

// q8RowsGeneric is DotQ8_0Rows in Go.
func q8RowsGeneric(w []byte, x []float32, out []float32) {
	rb := len(x) / Q8Block * Q8Bytes
	for n := range out {
		row := w[n*rb : (n+1)*rb]
		var acc float32
		for b := 0; b < len(x)/Q8Block; b++ {
			blk := row[b*Q8Bytes : (b+1)*Q8Bytes]
			d := f16ToF32(uint16(blk[0]) | uint16(blk[1])<<8)
			xs := x[b*Q8Block : (b+1)*Q8Block]
			var s float32
			for i, v := range xs {
				s += float32(int8(blk[2+i])) * v
			}
			acc += d * s
		}
		out[n] = acc
	}
}

// q6kRowsGeneric is DotQ6KRows in Go.
func q6kRowsGeneric(w []byte, x []float32, out []float32) {
	rb := len(x) / Q6KBlock * Q6KBytes
	var codes [Q6KBlock]float32
	for n := range out {
		row := w[n*rb : (n+1)*rb]
		var acc float32
		for b := 0; b < len(x)/Q6KBlock; b++ {
			blk := row[b*Q6KBytes : (b+1)*Q6KBytes]
			q6kUnpack(blk, &codes)
			d := f16ToF32(uint16(blk[208]) | uint16(blk[209])<<8)
			xs := x[b*Q6KBlock : (b+1)*Q6KBlock]
			for g := 0; g < 16; g++ {
				var s float32
				for i := 16 * g; i < 16*g+16; i++ {
					s += codes[i] * xs[i]
				}
				acc += d * float32(int8(blk[192+g])) * s
			}
		}
		out[n] = acc
	}
}

// q6kUnpack writes the 256 codes of a Q6_K block, minus 32, as float32.
func q6kUnpack(blk []byte, codes *[Q6KBlock]float32) {
	for h := 0; h < 2; h++ {
		ql, qh := blk[64*h:64*h+64], blk[128+32*h:128+32*h+32]
		for l := 0; l < 32; l++ {
			codes[128*h+l] = float32(int(ql[l]&0xf|(qh[l]&3)<<4) - 32)
			codes[128*h+l+32] = float32(int(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32)
			codes[128*h+l+64] = float32(int(ql[l]>>4|(qh[l]>>4&3)<<4) - 32)
			codes[128*h+l+96] = float32(int(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32)
		}
	}
}
