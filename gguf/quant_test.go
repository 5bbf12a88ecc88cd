package gguf

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestF16RoundTripAllHalves(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if f != f { // NaN: only check it stays NaN
			if g := F16ToF32(F32ToF16(f)); g == g {
				t.Fatalf("NaN %#04x did not stay NaN", h)
			}
			continue
		}
		if got := F32ToF16(f); got != uint16(h) {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)=%g) = %#04x", h, f, got)
		}
	}
}

func TestF32ToF16RoundsHalfToEven(t *testing.T) {
	// 1 + 2^-11 is halfway between 1 and the next half (1 + 2^-10): ties to even -> 1.
	if got := F32ToF16(1 + 1.0/2048); got != 0x3c00 {
		t.Fatalf("tie below: got %#04x want 0x3c00", got)
	}
	// 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even) -> even.
	if got := F32ToF16(1 + 3.0/2048); got != 0x3c02 {
		t.Fatalf("tie above: got %#04x want 0x3c02", got)
	}
	if got := F32ToF16(70000); got != 0x7c00 {
		t.Fatalf("overflow: got %#04x want +inf", got)
	}
	// Smallest subnormal 2^-24 and half of it (a tie to even, 0).
	if got := F32ToF16(float32(math.Ldexp(1, -24))); got != 1 {
		t.Fatalf("2^-24: got %#04x", got)
	}
	if got := F32ToF16(float32(math.Ldexp(1, -25))); got != 0 {
		t.Fatalf("2^-25: got %#04x", got)
	}
	if got := F32ToF16(float32(math.Ldexp(3, -25))); got != 2 {
		t.Fatalf("3*2^-25: got %#04x", got)
	}
}

func TestI2SRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 128 * 5
	tern := make([]int8, n)
	for i := range tern {
		tern[i] = int8(r.IntN(3)) - 1
	}
	raw := EncodeI2S(tern, 0.75)
	if len(raw) != n/4+32 {
		t.Fatalf("size %d", len(raw))
	}
	got := make([]int8, n)
	DecodeI2S(raw, got)
	for i := range got {
		if got[i] != tern[i] {
			t.Fatalf("element %d: got %d want %d", i, got[i], tern[i])
		}
	}
	s, err := I2SScale(raw, int64(n))
	if err != nil || s != 0.75 {
		t.Fatalf("scale %v %v", s, err)
	}
	// Layout fact from the format: element 32 of a block is byte 0 bits 5:4.
	one := make([]int8, 128)
	one[32] = 1
	if b := EncodeI2S(one, 1)[0]; b != 0x40|0x20|0x04|0x01 {
		// element 0, 64, 96 are 0 (code 1); element 32 is +1 (code 2)
		t.Fatalf("byte 0 = %#02x", b)
	}
}

func TestRoundF16FastPath(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	check := func(b uint32) {
		f := math.Float32frombits(b)
		want := F16ToF32(F32ToF16(f))
		got := RoundF16(f)
		if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
			t.Fatalf("RoundF16(%g = %#08x) = %g, want %g", f, b, got, want)
		}
	}
	for i := 0; i < 2_000_000; i++ {
		check(r.Uint32())
	}
	// Every exponent at the edges of the fast range, with tie patterns.
	for e := uint32(110); e <= 145; e++ {
		for _, m := range []uint32{0, 0x1000, 0x3000, 0x1fff, 0x2000, 0x7fe000, 0x7ff000, 0x7fffff} {
			check(e<<23 | m)
			check(1<<31 | e<<23 | m)
		}
	}
}
