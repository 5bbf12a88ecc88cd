package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Q6_K: blocks of 256 weights in 210 bytes (6.5625 bits per weight), laid
// out as ggml lays them out:
//
//	ql     [128]byte  low 4 bits of the 6-bit codes
//	qh     [64]byte   high 2 bits
//	scales [16]int8   one scale per group of 16 weights
//	d      fp16       the block's scale of the scales
//
// Weight j of a block (0 <= j < 256) lies in half h = j/128; with r = j%128,
// l = r%32 and k = r/32, its low bits are nibble k/2 (low nibble first) of
// ql[64h + l + 32(k%2)] and its high bits are bits 2k..2k+1 of qh[32h + l].
// Its value is d * scales[j/16] * (code - 32), code in 0..63.
const (
	Q6_KBytes  = 210
	q6kQlBytes = 128
	q6kQhBytes = 64
	q6kGroups  = 16
)

// Q6KCode returns the 6-bit code (0..63) of weight j of one Q6_K block.
func Q6KCode(blk []byte, j int) int {
	h, r := j/128, j%128
	l, k := r%32, r/32
	lo := blk[64*h+l+32*(k%2)] >> (4 * uint(k/2)) & 0xf
	hi := blk[q6kQlBytes+32*h+l] >> (2 * uint(k)) & 3
	return int(lo) | int(hi)<<4
}

// setQ6KCode stores code c (0..63) as weight j of a zeroed Q6_K block.
func setQ6KCode(blk []byte, j, c int) {
	h, r := j/128, j%128
	l, k := r%32, r/32
	blk[64*h+l+32*(k%2)] |= uint8(c&0xf) << (4 * uint(k/2))
	blk[q6kQlBytes+32*h+l] |= uint8(c>>4) << (2 * uint(k))
}

// DecodeQ6_K writes the first len(dst) weights (a multiple of 256) of Q6_K
// data to dst: (d * scale) * (code - 32), in float32.
func DecodeQ6_K(raw []byte, dst []float32) error {
	nb, err := checkDecode("Q6_K", raw, len(dst), QK_K, Q6_KBytes)
	if err != nil {
		return err
	}
	for b := range nb {
		blk := raw[b*Q6_KBytes : (b+1)*Q6_KBytes]
		d := F16ToF32(binary.LittleEndian.Uint16(blk[Q6_KBytes-2:]))
		y := dst[b*QK_K : (b+1)*QK_K]
		for j := range y {
			s := d * float32(int8(blk[q6kQlBytes+q6kQhBytes+j/16]))
			y[j] = s * float32(Q6KCode(blk, j)-32)
		}
	}
	return nil
}

// EncodeQ6_K quantizes x (len a multiple of 256) to Q6_K blocks. Each group
// of 16 weights gets the scale, among a few candidates around the one that
// maps its largest magnitude to -32, with the least squared error, refined
// by least squares; the group scales are then quantized to int8 against the
// block's fp16 scale d, and the codes are chosen against the scales as
// stored, so decoding reproduces what the error was measured on.
func EncodeQ6_K(x []float32) ([]byte, error) {
	if len(x)%QK_K != 0 {
		return nil, fmt.Errorf("gguf: Q6_K: %d values is not a multiple of the block size %d", len(x), QK_K)
	}
	nb := len(x) / QK_K
	out := make([]byte, nb*Q6_KBytes)
	var gs [q6kGroups]float32
	for b := range nb {
		xs := x[b*QK_K : (b+1)*QK_K]
		blk := out[b*Q6_KBytes : (b+1)*Q6_KBytes]
		smax := float32(0)
		for g := range gs {
			s, err := q6kGroupScale(xs[16*g : 16*g+16])
			if err != nil {
				return nil, fmt.Errorf("gguf: Q6_K: block %d: %w", b, err)
			}
			gs[g] = s
			smax = max(smax, fabs32(s))
		}
		dh := F32ToF16(smax / 127)
		d := F16ToF32(dh)
		binary.LittleEndian.PutUint16(blk[Q6_KBytes-2:], dh)
		for g := range gs {
			sc := 0
			if d != 0 {
				sc = int(max(-128, min(127, math.RoundToEven(float64(gs[g]/d)))))
			}
			blk[q6kQlBytes+q6kQhBytes+g] = uint8(int8(sc))
			s := d * float32(sc)
			for i, v := range xs[16*g : 16*g+16] {
				setQ6KCode(blk, 16*g+i, q6kCode(v, s)+32)
			}
		}
	}
	return out, nil
}

// q6kCode is the signed code in -32..31 nearest to v/s (0 when s is 0).
func q6kCode(v, s float32) int {
	if s == 0 {
		return 0
	}
	return int(max(-32, min(31, math.RoundToEven(float64(v/s)))))
}

// q6kGroupScale picks the scale s of one group of 16 weights (v ~ s*code).
func q6kGroupScale(xs []float32) (float32, error) {
	var m float32
	for _, v := range xs {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("non-finite value %v", v)
		}
		if fabs32(v) > fabs32(m) {
			m = v
		}
	}
	if m == 0 {
		return 0, nil
	}
	sse := func(s float32) float64 {
		var e float64
		for _, v := range xs {
			d := float64(v) - float64(s)*float64(q6kCode(v, s))
			e += d * d
		}
		return e
	}
	best, bestErr := float32(0), math.Inf(1)
	for _, c := range []float32{32, 31.75, 31.5, 31.25, 31, 30.5, 30, 29} {
		s := -m / c
		// least squares for the codes s gives
		var xq, qq float64
		for _, v := range xs {
			q := float64(q6kCode(v, s))
			xq += float64(v) * q
			qq += q * q
		}
		for _, t := range []float32{s, float32(xq / qq)} {
			if e := sse(t); e < bestErr {
				best, bestErr = t, e
			}
		}
	}
	return best, nil
}

func fabs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }
