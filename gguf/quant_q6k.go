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
				c := 0
				if s != 0 {
					c = int(q6kRound(v / s))
				}
				setQ6KCode(blk, 16*g+i, c+32)
			}
		}
	}
	return out, nil
}

// q6kCandidates are the code magnitudes the largest weight of a group may
// map to: 32 uses the whole range; 31 trades clipping of the largest weight
// for finer steps elsewhere. (Two more, 31.5 and 30, cost twice the time
// for no clear gain: mean KL against the F16 head 1.08e-3 with four,
// 1.07e-3 with these two, 1.30e-3 with 32 alone on tiny-i2_s; 1.29e-3 with
// four, 1.35e-3 with two on the 2B-4T shapes.)
var q6kCandidates = [...]float32{32, 31}

// q6kGroupScale picks the scale s of one group of 16 weights (v ~ s*code):
// for each candidate, the scale that maps the largest magnitude to it and
// the least-squares scale for the codes that one gives; the one with the
// least squared error wins.
func q6kGroupScale(xs []float32) (float32, error) {
	var m float32
	for _, v := range xs {
		if v != v || v-v != 0 { // NaN or ±Inf
			return 0, fmt.Errorf("non-finite value %v", v)
		}
		if fabs32(v) > fabs32(m) {
			m = v
		}
	}
	if m == 0 {
		return 0, nil
	}
	best, bestErr := float32(0), float32(math.Inf(1))
	for _, c := range q6kCandidates {
		s := -m / c
		inv := 1 / s
		var xq, qq, e float32
		for _, v := range xs {
			q := q6kRound(v * inv)
			xq += v * q
			qq += q * q
			d := v - s*q
			e += d * d
		}
		if e < bestErr {
			best, bestErr = s, e
		}
		if qq == 0 {
			continue
		}
		t := xq / qq
		it := 1 / t
		e = 0
		for _, v := range xs {
			d := v - t*q6kRound(v*it)
			e += d * d
		}
		if e < bestErr {
			best, bestErr = t, e
		}
	}
	return best, nil
}

// q6kRound rounds r to the nearest integer (halves up) in the code range
// -32..31: r+32.5 is then positive, where conversion truncates to the floor.
func q6kRound(r float32) float32 {
	r = max(-32, min(31, r))
	return float32(int32(r+32.5) - 32)
}

func fabs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }
