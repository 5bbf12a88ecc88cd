package gguf

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// Code 3 is never written but means 0: I2SHasCode3 finds it anywhere (the
// 8-byte words and the tail), and I2SWithoutCode3 makes it 1 without
// changing a decoded value.
func TestI2SCode3(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tern := make([]int8, 128*3)
	for i := range tern {
		tern[i] = int8(rng.IntN(3)) - 1
	}
	clean := EncodeI2S(tern, 1)[:len(tern)/4]
	if I2SHasCode3(clean) {
		t.Fatal("code 3 found in a packed payload")
	}
	for _, at := range []int{0, 7, 8, 63, len(clean) - 1} {
		for pair := 0; pair < 4; pair++ {
			p := slices.Clone(clean)
			p[at] |= 3 << (2 * pair)
			if !I2SHasCode3(p) {
				t.Fatalf("code 3 at byte %d, pair %d not found", at, pair)
			}
			fixed := I2SWithoutCode3(p)
			if I2SHasCode3(fixed) {
				t.Fatalf("code 3 at byte %d, pair %d left in place", at, pair)
			}
			want, got := make([]int8, len(tern)), make([]int8, len(tern))
			DecodeI2S(p, want)
			DecodeI2S(fixed, got)
			if !slices.Equal(got, want) {
				t.Fatalf("byte %d, pair %d: values changed", at, pair)
			}
		}
	}
}
