//go:build (amd64 || arm64) && (linux || darwin || freebsd || netbsd || windows)

package gpu

import (
	"encoding/binary"
	"fmt"

	"bitnet/gguf"
)

// Device layouts of the quantized float types. File blocks of Q8_0 (34
// bytes) and Q6_K (210 bytes) are only 2-byte aligned, so Weights rewrites
// each row into streams that the kernels read with aligned 16-byte loads;
// a row's stride is a multiple of 16 bytes. The shaders decode the same
// layouts (include/quant_layout.glsl).
//
// Q8_0, K a multiple of 32:
//
//	[0, K)         the int8 codes in row order
//	[K, K+K/16)    the fp16 scale of each block of 32
//
// Q6_K, K a multiple of 256, in units of 32 weights (u = j/32; w = j%32
// splits into half g = w/16, quad i = (w%16)/4 and lane b = w%4):
//
//	[0, K/2)            16 bytes per unit: byte 16u+4i+b holds the low 4 bits
//	                    of the code of weight 32u+4i+b (low nibble) and of
//	                    weight 32u+16+4i+b (high nibble)
//	[K/2, 3K/4)         8 bytes per unit: bits 2i..2i+1 of byte 8u+4g+b are
//	                    the high 2 bits of the code of weight 32u+16g+4i+b
//	[3K/4, 13K/16)      the int8 scale of each group of 16
//	[13K/16, 105K/128)  the fp16 d of each block of 256
//
// so a 32-bit word of low bits masked with 0x0f0f0f0f (or shifted right by
// 4 first) and the matching high-bit word shifted by 2i and masked with
// 0x03030303 give four consecutive codes, one per byte.

// deviceRowBytes returns the bytes of a row of k values in the device
// layout of a repacked type (0 for the types uploaded as they are).
func deviceRowBytes(dt gguf.DType, k int) uint64 {
	switch dt {
	case gguf.Q8_0:
		return (uint64(k) + uint64(k/16) + 15) &^ 15
	case gguf.Q6_K:
		return (uint64(k)*105/128 + 15) &^ 15
	}
	return 0
}

// repackRow writes one file row of k values (src) of dt into the device
// layout (dst, deviceRowBytes long; padding is zeroed).
func repackRow(dt gguf.DType, k int, dst, src []byte) {
	clear(dst)
	switch dt {
	case gguf.Q8_0:
		nb := k / 32
		for b := range nb {
			blk := src[b*gguf.Q8_0Bytes : (b+1)*gguf.Q8_0Bytes]
			dst[k+2*b], dst[k+2*b+1] = blk[0], blk[1]
			copy(dst[32*b:32*b+32], blk[2:34])
		}
	case gguf.Q6_K:
		lo, hi := dst[:k/2], dst[k/2:3*k/4]
		sc, ds := dst[3*k/4:13*k/16], dst[13*k/16:]
		for b := range k / 256 {
			blk := src[b*gguf.Q6_KBytes : (b+1)*gguf.Q6_KBytes]
			copy(sc[16*b:16*b+16], blk[192:208])
			ds[2*b], ds[2*b+1] = blk[208], blk[209]
			// File weight 128h+32q+l of the block (the layout of
			// gguf.Q6KCode) is weight l of unit 8b+4h+q here: its low bits
			// are nibble q/2 of ql[64h+32(q%2)+l], its high bits bits 2q of
			// qh[32h+l]. Four weights (l = 4i..4i+3, and l+16) per word.
			le := binary.LittleEndian
			for h := range 2 {
				for q := range 4 {
					u := 8*b + 4*h + q
					ql, sh := blk[64*h+32*(q%2):], 4*(q/2)
					var hw [2]uint32
					for i := range 4 {
						a0, a1 := le.Uint32(ql[4*i:])>>sh, le.Uint32(ql[16+4*i:])>>sh
						le.PutUint32(lo[16*u+4*i:], a0&0x0f0f0f0f|(a1&0x0f0f0f0f)<<4)
						for g := range 2 {
							qh := le.Uint32(blk[128+32*h+16*g+4*i:])
							hw[g] |= (qh >> (2 * q) & 0x03030303) << (2 * i)
						}
					}
					le.PutUint32(hi[8*u:], hw[0])
					le.PutUint32(hi[8*u+4:], hw[1])
				}
			}
		}
	default:
		panic(fmt.Sprintf("gpu: no device layout for %s", dt))
	}
}
