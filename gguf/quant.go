package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
)

// F16ToF32 converts an IEEE 754 half-precision value to float32 (exact).
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or nan
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// subnormal: value = mant * 2^-24
	f := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		return -f
	}
	return f
}

// f16Table returns F16ToF32 of every half, made on first use (256 KiB).
var f16Table = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for h := range t {
		t[h] = F16ToF32(uint16(h))
	}
	return &t
})

// F32ToF16 rounds a float32 to the nearest half-precision value, ties to even
// (as F16C's vcvtps2ph and ggml's conversion do). Overflow gives infinity.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is correct (up to infinity)
	}
	return sign | uint16(r)
}

// RoundF16 rounds a float32 to the nearest F16 value (ties to even) and
// returns it as a float32: F16ToF32(F32ToF16(f)), with a fast path for the
// normal F16 range.
func RoundF16(f float32) float32 {
	b := math.Float32bits(f)
	if e := b >> 23 & 0xff; e >= 113 && e <= 141 { // 2^-14 <= |f| < 2^15
		b += 0xfff + (b >> 13 & 1) // round the 13 dropped mantissa bits, ties to even
		return math.Float32frombits(b &^ 0x1fff)
	}
	return F16ToF32(F32ToF16(f))
}

// BF16ToF32 converts a bfloat16 value to float32 (exact).
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// I2SScale returns the per-tensor scale of an I2_S tensor of n elements: the
// little-endian float32 that follows the n/4 bytes of 2-bit codes.
func I2SScale(raw []byte, n int64) (float32, error) {
	if n%4 != 0 || int64(len(raw)) < n/4+4 {
		return 0, fmt.Errorf("I2_S data of %d bytes is too short for %d elements", len(raw), n)
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(raw[n/4:])), nil
}

// I2SCode returns the 2-bit code (0 -> -1, 1 -> 0, 2 -> +1, 3 -> 0) of flat
// element i. Blocks of 128 elements take 32 bytes; byte b of block k holds
// elements 128k+b, +32, +64, +96 in bits 7:6, 5:4, 3:2, 1:0.
func I2SCode(raw []byte, i int64) uint8 {
	blk, r := i/128, i%128
	group, b := r/32, r%32
	return raw[blk*32+b] >> (6 - 2*uint(group)) & 3
}

// DecodeI2S writes the ternary values (-1, 0, +1) of the first len(dst)
// elements of an I2_S tensor to dst. Code 3 (never written) decodes as 0.
func DecodeI2S(raw []byte, dst []int8) {
	for i := range dst {
		c := I2SCode(raw, int64(i))
		if c == 3 {
			c = 1
		}
		dst[i] = int8(c) - 1
	}
}

// EncodeI2S packs ternary values (each -1, 0 or +1; len a multiple of 128)
// with a per-tensor scale into I2_S bytes (len(t)/4 + 32).
func EncodeI2S(t []int8, scale float32) []byte {
	n := len(t)
	out := make([]byte, n/4+32)
	for i, v := range t {
		blk, r := i/128, i%128
		group, b := r/32, r%32
		out[blk*32+b] |= uint8(v+1) << (6 - 2*uint(group))
	}
	binary.LittleEndian.PutUint32(out[n/4:], math.Float32bits(scale))
	return out
}

// DecodeRow dequantizes one row of a weight of type dt (its raw bytes) into
// out (len(out) elements), as float32: the one conversion every backend
// uses for embedding lookups. I2_S rows decode to their ternary values
// times scale (code 3 as 0); scale is ignored by the other types.
func DecodeRow(dt DType, row []byte, out []float32, scale float32) error {
	n := len(out)
	need, err := dt.ByteSize(int64(n))
	if dt == I2_S {
		need, err = int64(n/4), nil
	}
	if err != nil {
		return err
	}
	if int64(len(row)) < need {
		return fmt.Errorf("gguf: a %s row of %d elements needs %d bytes, has %d", dt, n, need, len(row))
	}
	switch dt {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(row[4*i:]))
		}
	case F16:
		t := f16Table()
		for i := range out {
			out[i] = t[binary.LittleEndian.Uint16(row[2*i:])]
		}
	case BF16:
		for i := range out {
			out[i] = BF16ToF32(binary.LittleEndian.Uint16(row[2*i:]))
		}
	case I2_S:
		for i := range out {
			c := I2SCode(row, int64(i))
			if c == 3 {
				c = 1
			}
			out[i] = float32(int(c)-1) * scale
		}
	case Q8_0:
		return DecodeQ8_0(row, out)
	case Q6_K:
		return DecodeQ6_K(row, out)
	case TQ2_0:
		return DecodeTQ2_0(row, out)
	case TQ1_0:
		return DecodeTQ1_0(row, out)
	default:
		return fmt.Errorf("gguf: cannot decode rows of %s", dt)
	}
	return nil
}

// I2SHasCode3 reports whether any 2-bit code of an I2_S payload is 3 (never
// written by the packer; it means 0).
func I2SHasCode3(p []byte) bool {
	const lo = 0x5555555555555555
	n := len(p) / 8 * 8
	for i := 0; i < n; i += 8 {
		if w := binary.LittleEndian.Uint64(p[i:]); w&(w>>1)&lo != 0 {
			return true
		}
	}
	for _, c := range p[n:] {
		if c&(c>>1)&0x55 != 0 {
			return true
		}
	}
	return false
}

// I2SWithoutCode3 returns a copy of an I2_S payload with every code 3 made
// 1 (both mean 0), so that a kernel may compute with code-1.
func I2SWithoutCode3(p []byte) []byte {
	out := make([]byte, len(p))
	for i, c := range p {
		three := c & (c >> 1) & 0x55 // the low bit of each pair that is 3
		out[i] = c &^ (three << 1)
	}
	return out
}
