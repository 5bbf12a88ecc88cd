package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Block sizes of the upstream ggml ternary and 8-bit types.
const (
	QK_K        = 256 // elements per TQ1_0 / TQ2_0 block
	TQ2_0Bytes  = 66  // 64 bytes of 2-bit codes, fp16 d
	TQ1_0Bytes  = 54  // qs[48], qh[4], fp16 d
	QK8_0       = 32  // elements per Q8_0 block
	Q8_0Bytes   = 34  // fp16 d, 32 int8
	tq1QsBytes  = 48
	tq1QhBytes  = 4
	tq2QsBytes  = 64
	tq1Trits    = 5
	tq1Pow3Full = 243
)

var pow3 = [6]uint16{1, 3, 9, 27, 81, 243}

func checkTernary(name string, tern []int8, d []float32, blockElems int) error {
	if len(tern)%blockElems != 0 {
		return fmt.Errorf("gguf: %s: %d values is not a multiple of the block size %d", name, len(tern), blockElems)
	}
	if len(d) != len(tern)/blockElems {
		return fmt.Errorf("gguf: %s: %d scales for %d blocks", name, len(d), len(tern)/blockElems)
	}
	for i, v := range tern {
		if v < -1 || v > 1 {
			return fmt.Errorf("gguf: %s: value %d at %d is not -1, 0 or +1", name, v, i)
		}
	}
	return nil
}

func checkDecode(name string, raw []byte, n, blockElems, blockBytes int) (int, error) {
	if n%blockElems != 0 {
		return 0, fmt.Errorf("gguf: %s: %d values is not a multiple of the block size %d", name, n, blockElems)
	}
	nb := n / blockElems
	if len(raw) < nb*blockBytes {
		return 0, fmt.Errorf("gguf: %s: %d bytes is too short for %d values (%d needed)", name, len(raw), n, nb*blockBytes)
	}
	return nb, nil
}

// EncodeTQ2_0 packs ternary values (-1, 0, +1; len a multiple of 256) with one
// scale per 256-element block (d[i], stored as fp16) into TQ2_0 blocks of 66
// bytes: within each 128-element half, byte m of the 32 holds elements m,
// 32+m, 64+m, 96+m in bits 1:0, 3:2, 5:4, 7:6 as code value+1.
func EncodeTQ2_0(tern []int8, d []float32) ([]byte, error) {
	if err := checkTernary("TQ2_0", tern, d, QK_K); err != nil {
		return nil, err
	}
	nb := len(tern) / QK_K
	out := make([]byte, nb*TQ2_0Bytes)
	for b := range nb {
		x := tern[b*QK_K : (b+1)*QK_K]
		blk := out[b*TQ2_0Bytes : (b+1)*TQ2_0Bytes]
		for j := 0; j < tq2QsBytes; j += 32 {
			for m := range 32 {
				var q uint8
				for n := range 4 {
					q |= uint8(x[j*4+n*32+m]+1) << (2 * n)
				}
				blk[j+m] = q
			}
		}
		binary.LittleEndian.PutUint16(blk[tq2QsBytes:], F32ToF16(d[b]))
	}
	return out, nil
}

// TernaryTQ2_0 unpacks TQ2_0 blocks into ternary values (code-1; len(tern) a
// multiple of 256) and the per-block scales (len(tern)/256 of them).
// A code of 3, which the encoder never writes, unpacks as +2 as in ggml.
func TernaryTQ2_0(raw []byte, tern []int8, d []float32) error {
	nb, err := checkDecode("TQ2_0", raw, len(tern), QK_K, TQ2_0Bytes)
	if err != nil {
		return err
	}
	if len(d) < nb {
		return fmt.Errorf("gguf: TQ2_0: %d scales for %d blocks", len(d), nb)
	}
	for b := range nb {
		blk := raw[b*TQ2_0Bytes : (b+1)*TQ2_0Bytes]
		y := tern[b*QK_K : (b+1)*QK_K]
		for j := 0; j < tq2QsBytes; j += 32 {
			for n := range 4 {
				for m := range 32 {
					y[j*4+n*32+m] = int8(blk[j+m]>>(2*n)&3) - 1
				}
			}
		}
		d[b] = F16ToF32(binary.LittleEndian.Uint16(blk[tq2QsBytes:]))
	}
	return nil
}

// DecodeTQ2_0 writes (code-1)*d of the first len(dst) elements (a multiple of
// 256) of TQ2_0 data to dst, as ggml's dequantize_row_tq2_0 does.
func DecodeTQ2_0(raw []byte, dst []float32) error {
	nb, err := checkDecode("TQ2_0", raw, len(dst), QK_K, TQ2_0Bytes)
	if err != nil {
		return err
	}
	for b := range nb {
		blk := raw[b*TQ2_0Bytes : (b+1)*TQ2_0Bytes]
		d := F16ToF32(binary.LittleEndian.Uint16(blk[tq2QsBytes:]))
		y := dst[b*QK_K : (b+1)*QK_K]
		for j := 0; j < tq2QsBytes; j += 32 {
			for n := range 4 {
				for m := range 32 {
					y[j*4+n*32+m] = float32(int8(blk[j+m]>>(2*n)&3)-1) * d
				}
			}
		}
	}
	return nil
}

// tq1Pack stores trits t (each 0..2, t[0] most significant, up to five) as
// ceil(q*256/243) with q their base-3 value shifted to five trits.
func tq1Pack(t ...int8) uint8 {
	q := uint16(0)
	for _, x := range t {
		q = q*3 + uint16(x)
	}
	for range tq1Trits - len(t) {
		q *= 3
	}
	return uint8((q*256 + tq1Pow3Full - 1) / tq1Pow3Full)
}

// tq1Trit returns trit n (0 = most significant) of a packed byte: 0, 1 or 2.
func tq1Trit(b uint8, n int) int8 {
	v := uint8(uint16(b) * pow3[n]) // mod 256
	return int8((uint16(v) * 3) >> 8)
}

// EncodeTQ1_0 packs ternary values (-1, 0, +1; len a multiple of 256) with one
// scale per 256-element block (d[i], stored as fp16) into TQ1_0 blocks of 54
// bytes (qs[48], qh[4], d) with ggml's base-3 layout: qs[0..31] hold elements
// m+32n (n = 0..4), qs[32..47] hold 160+m+16n, qh[j] holds 240+j+4n (n = 0..3).
func EncodeTQ1_0(tern []int8, d []float32) ([]byte, error) {
	if err := checkTernary("TQ1_0", tern, d, QK_K); err != nil {
		return nil, err
	}
	nb := len(tern) / QK_K
	out := make([]byte, nb*TQ1_0Bytes)
	var t [5]int8
	for b := range nb {
		x := tern[b*QK_K : (b+1)*QK_K]
		blk := out[b*TQ1_0Bytes : (b+1)*TQ1_0Bytes]
		for m := range 32 {
			for n := range 5 {
				t[n] = x[m+32*n] + 1
			}
			blk[m] = tq1Pack(t[:]...)
		}
		for m := range 16 {
			for n := range 5 {
				t[n] = x[160+m+16*n] + 1
			}
			blk[32+m] = tq1Pack(t[:]...)
		}
		for j := range tq1QhBytes {
			for n := range 4 {
				t[n] = x[240+j+4*n] + 1
			}
			blk[tq1QsBytes+j] = tq1Pack(t[:4]...)
		}
		binary.LittleEndian.PutUint16(blk[tq1QsBytes+tq1QhBytes:], F32ToF16(d[b]))
	}
	return out, nil
}

// TernaryTQ1_0 unpacks TQ1_0 blocks into ternary values (trit-1; len(tern) a
// multiple of 256) and the per-block scales (len(tern)/256 of them).
func TernaryTQ1_0(raw []byte, tern []int8, d []float32) error {
	nb, err := checkDecode("TQ1_0", raw, len(tern), QK_K, TQ1_0Bytes)
	if err != nil {
		return err
	}
	if len(d) < nb {
		return fmt.Errorf("gguf: TQ1_0: %d scales for %d blocks", len(d), nb)
	}
	for b := range nb {
		blk := raw[b*TQ1_0Bytes : (b+1)*TQ1_0Bytes]
		tq1Unpack(blk, tern[b*QK_K:(b+1)*QK_K])
		d[b] = F16ToF32(binary.LittleEndian.Uint16(blk[tq1QsBytes+tq1QhBytes:]))
	}
	return nil
}

func tq1Unpack(blk []byte, y []int8) {
	for n := range 5 {
		for m := range 32 {
			y[m+32*n] = tq1Trit(blk[m], n) - 1
		}
	}
	for n := range 5 {
		for m := range 16 {
			y[160+m+16*n] = tq1Trit(blk[32+m], n) - 1
		}
	}
	for n := range 4 {
		for j := range tq1QhBytes {
			y[240+j+4*n] = tq1Trit(blk[tq1QsBytes+j], n) - 1
		}
	}
}

// DecodeTQ1_0 writes (trit-1)*d of the first len(dst) elements (a multiple of
// 256) of TQ1_0 data to dst, as ggml's dequantize_row_tq1_0 does.
func DecodeTQ1_0(raw []byte, dst []float32) error {
	nb, err := checkDecode("TQ1_0", raw, len(dst), QK_K, TQ1_0Bytes)
	if err != nil {
		return err
	}
	var t [QK_K]int8
	for b := range nb {
		blk := raw[b*TQ1_0Bytes : (b+1)*TQ1_0Bytes]
		d := F16ToF32(binary.LittleEndian.Uint16(blk[tq1QsBytes+tq1QhBytes:]))
		tq1Unpack(blk, t[:])
		y := dst[b*QK_K : (b+1)*QK_K]
		for i, v := range t {
			y[i] = float32(v) * d
		}
	}
	return nil
}

// EncodeQ8_0 quantizes x (len a multiple of 32) to Q8_0 blocks of 34 bytes as
// ggml's quantize_row_q8_0_ref does: d = absmax/127 stored as fp16, then 32
// int8 values round(x/d) (halves away from zero).
func EncodeQ8_0(x []float32) ([]byte, error) {
	return AppendQ8_0(nil, x)
}

// AppendQ8_0 appends EncodeQ8_0(x) to dst.
func AppendQ8_0(dst []byte, x []float32) ([]byte, error) {
	dst, _, _, err := AppendQ8_0Err(dst, x)
	return dst, err
}

// AppendQ8_0Err is AppendQ8_0 that also returns max|x_i| and the largest
// error max|x_i - y_i| of the values y the blocks decode to (DecodeQ8_0),
// both exact (NaN if x holds a NaN or an infinity).
func AppendQ8_0Err(dst []byte, x []float32) (_ []byte, xmax, emax float64, _ error) {
	if len(x)%QK8_0 != 0 {
		return dst, 0, 0, fmt.Errorf("gguf: Q8_0: %d values is not a multiple of the block size %d", len(x), QK8_0)
	}
	nb := len(x) / QK8_0
	at := len(dst)
	dst = append(dst, make([]byte, nb*Q8_0Bytes)...)
	out := dst[at:]
	for b := range nb {
		xs := x[b*QK8_0 : (b+1)*QK8_0]
		blk := out[b*Q8_0Bytes : (b+1)*Q8_0Bytes]
		amax := float32(0)
		for _, v := range xs {
			amax = max(amax, math.Float32frombits(math.Float32bits(v)&^(1<<31)))
		}
		d := amax / 127
		id := float32(0)
		if d != 0 {
			id = 1 / d
		}
		h := F32ToF16(d)
		binary.LittleEndian.PutUint16(blk, h)
		dq := float64(F16ToF32(h))
		for i, v := range xs {
			// Halves away from zero: a float32 of magnitude 1/4 or more
			// plus 1/2 is exact in float64, and a smaller one
			// truncates to 0 either way.
			r := float64(v * id)
			q := int8(int32(r + math.Copysign(0.5, r)))
			blk[2+i] = uint8(q)
			// Exact: code times scale has 19 significant bits.
			emax = max(emax, math.Abs(float64(v)-float64(q)*dq))
		}
		xmax = max(xmax, float64(amax))
	}
	if math.IsInf(xmax, 0) {
		xmax = math.NaN()
	}
	return dst, xmax, emax, nil
}

// DecodeQ8_0 writes q*d of the first len(dst) elements (a multiple of 32) of
// Q8_0 data to dst.
func DecodeQ8_0(raw []byte, dst []float32) error {
	nb, err := checkDecode("Q8_0", raw, len(dst), QK8_0, Q8_0Bytes)
	if err != nil {
		return err
	}
	for b := range nb {
		blk := raw[b*Q8_0Bytes : (b+1)*Q8_0Bytes]
		d := F16ToF32(binary.LittleEndian.Uint16(blk))
		y := dst[b*QK8_0 : (b+1)*QK8_0]
		for i := range y {
			y[i] = float32(int8(blk[2+i])) * d
		}
	}
	return nil
}
