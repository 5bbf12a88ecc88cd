//go:build !noasm

#include "textflag.h"

// NEON kernels of package kernels for arm64, written by hand. Go's arm64
// assembler lacks most of the NEON arithmetic used here, so those
// instructions are emitted as WORDs through the macros below. Each macro
// takes register numbers (d = destination, n and m = sources) and its
// comment shows the instruction; the base encodings are those of the Arm
// Architecture Reference Manual with all register fields zero.
//
// Registers: R0-R17 and V0-V31 are free in these leaf functions; R18 (the
// platform register), R26-R30 (closure context, assembler temporary, g,
// frame pointer, link register) are left alone.

// SDOT Vd.4S, Vn.16B, Vm.16B (FEAT_DotProd): four signed 8-bit dot products
// of four lanes each, added to the 32-bit lanes of Vd.
#define SDOT(d, n, m) WORD $(0x4E809400 | ((m)<<16) | ((n)<<5) | (d))

// SMULL Vd.8H, Vn.8B, Vm.8B: signed widening multiply of the low halves.
#define SMULL(d, n, m) WORD $(0x0E20C000 | ((m)<<16) | ((n)<<5) | (d))

// SMLAL Vd.8H, Vn.8B, Vm.8B: signed widening multiply-add, low halves.
#define SMLAL(d, n, m) WORD $(0x0E208000 | ((m)<<16) | ((n)<<5) | (d))

// SMLAL2 Vd.8H, Vn.16B, Vm.16B: signed widening multiply-add, high halves.
#define SMLAL2(d, n, m) WORD $(0x4E208000 | ((m)<<16) | ((n)<<5) | (d))

// SADALP Vd.4S, Vn.8H: add pairs of signed 16-bit lanes into the 32-bit lanes.
#define SADALP_H(d, n) WORD $(0x4E606800 | ((n)<<5) | (d))

// SADDLP Vd.8H, Vn.16B: signed sums of adjacent byte pairs, widened.
#define SADDLP_B(d, n) WORD $(0x4E202800 | ((n)<<5) | (d))

// FABS Vd.4S, Vn.4S.
#define FABS4(d, n) WORD $(0x4EA0F800 | ((n)<<5) | (d))

// FMAX Vd.4S, Vn.4S, Vm.4S (a NaN operand gives NaN; max(-0, +0) = +0).
#define FMAX4(d, n, m) WORD $(0x4E20F400 | ((m)<<16) | ((n)<<5) | (d))

// FMAXV Sd, Vn.4S: the largest lane.
#define FMAXV4(d, n) WORD $(0x6E30F800 | ((n)<<5) | (d))

// FMUL Vd.4S, Vn.4S, Vm.4S.
#define FMUL4(d, n, m) WORD $(0x6E20DC00 | ((m)<<16) | ((n)<<5) | (d))

// FDIV Vd.4S, Vn.4S, Vm.4S.
#define FDIV4(d, n, m) WORD $(0x6E20FC00 | ((m)<<16) | ((n)<<5) | (d))

// FADD Vd.4S, Vn.4S, Vm.4S.
#define FADD4(d, n, m) WORD $(0x4E20D400 | ((m)<<16) | ((n)<<5) | (d))

// FADD Vd.2D, Vn.2D, Vm.2D.
#define FADD2D(d, n, m) WORD $(0x4E60D400 | ((m)<<16) | ((n)<<5) | (d))

// FMLA Vd.4S, Vn.4S, Vm.4S: Vd += Vn*Vm, fused.
#define FMLA4(d, n, m) WORD $(0x4E20CC00 | ((m)<<16) | ((n)<<5) | (d))

// FMLA Vd.2D, Vn.2D, Vm.2D: Vd += Vn*Vm, fused.
#define FMLA2D(d, n, m) WORD $(0x4E60CC00 | ((m)<<16) | ((n)<<5) | (d))

// FADDP Vd.4S, Vn.4S, Vm.4S: pairwise sums (Vn's pairs in the low half).
#define FADDP4(d, n, m) WORD $(0x6E20D400 | ((m)<<16) | ((n)<<5) | (d))

// FADDP Sd, Vn.2S: the sum of the two low lanes.
#define FADDPS(d, n) WORD $(0x7E30D800 | ((n)<<5) | (d))

// FADDP Dd, Vn.2D: the sum of the two lanes.
#define FADDPD(d, n) WORD $(0x7E70D800 | ((n)<<5) | (d))

// FCVTNS Vd.4S, Vn.4S: to int32, round to nearest with ties to even,
// saturating.
#define FCVTNS4(d, n) WORD $(0x4E21A800 | ((n)<<5) | (d))

// SCVTF Vd.4S, Vn.4S: int32 to float32, rounding to nearest even.
#define SCVTF4(d, n) WORD $(0x4E21D800 | ((n)<<5) | (d))

// SQXTN Vd.4H, Vn.4S and SQXTN2 Vd.8H, Vn.4S: saturating narrow int32 to
// int16 into the low (high) half of Vd.
#define SQXTN_S(d, n) WORD $(0x0E614800 | ((n)<<5) | (d))
#define SQXTN2_S(d, n) WORD $(0x4E614800 | ((n)<<5) | (d))

// SQXTN Vd.8B, Vn.8H and SQXTN2 Vd.16B, Vn.8H: saturating narrow int16 to
// int8 into the low (high) half of Vd.
#define SQXTN_H(d, n) WORD $(0x0E214800 | ((n)<<5) | (d))
#define SQXTN2_H(d, n) WORD $(0x4E214800 | ((n)<<5) | (d))

// FCVTL Vd.4S, Vn.4H and FCVTL2 Vd.4S, Vn.8H: half to single precision
// (exact), from the low (high) half of Vn.
#define FCVTL_H(d, n) WORD $(0x0E217800 | ((n)<<5) | (d))
#define FCVTL2_H(d, n) WORD $(0x4E217800 | ((n)<<5) | (d))

// FSUB Vd.4S, Vn.4S, Vm.4S.
#define FSUB4(d, n, m) WORD $(0x4EA0D400 | ((m)<<16) | ((n)<<5) | (d))

// FMLS Vd.4S, Vn.4S, Vm.4S: Vd -= Vn*Vm, fused.
#define FMLS4(d, n, m) WORD $(0x4EA0CC00 | ((m)<<16) | ((n)<<5) | (d))

// FNEG Vd.4S, Vn.4S.
#define FNEG4(d, n) WORD $(0x6EA0F800 | ((n)<<5) | (d))

// FCVTZS Vd.4S, Vn.4S: to int32, rounding toward zero (Go's conversion).
#define FCVTZS4(d, n) WORD $(0x4EA1B800 | ((n)<<5) | (d))

// FCMGT Vd.4S, Vn.4S, Vm.4S: all ones in the lanes where Vn > Vm.
#define FCMGT4(d, n, m) WORD $(0x6EA0E400 | ((m)<<16) | ((n)<<5) | (d))

// BIC Vd.16B, Vn.16B, Vm.16B: Vn AND NOT Vm.
#define BIC16(d, n, m) WORD $(0x4E601C00 | ((m)<<16) | ((n)<<5) | (d))

// FCVTN Vd.4H, Vn.4S and FCVTN2 Vd.8H, Vn.4S: single to half precision
// into the low (high) half of Vd, rounding to nearest even (FPCR.RMode).
#define FCVTN_S(d, n) WORD $(0x0E216800 | ((n)<<5) | (d))
#define FCVTN2_S(d, n) WORD $(0x4E216800 | ((n)<<5) | (d))

// FCVTL Vd.2D, Vn.2S and FCVTL2 Vd.2D, Vn.4S: single to double precision
// (exact), from the low (high) half of Vn.
#define FCVTL_S(d, n) WORD $(0x0E617800 | ((n)<<5) | (d))
#define FCVTL2_S(d, n) WORD $(0x4E617800 | ((n)<<5) | (d))

// I2S_CODES unpacks one 128-weight I2_S block held in V8 (bytes 0-15) and
// V9 (bytes 16-31) into the 2-bit codes V10..V17 that meet the activation
// bytes 0-15, 16-31, ..., 112-127 of the block. V31 holds 3 in every byte.
#define I2S_CODES \
	VUSHR $6, V8.B16, V10.B16  \
	VUSHR $6, V9.B16, V11.B16  \
	VUSHR $4, V8.B16, V12.B16  \
	VUSHR $4, V9.B16, V13.B16  \
	VUSHR $2, V8.B16, V14.B16  \
	VUSHR $2, V9.B16, V15.B16  \
	VAND  V31.B16, V12.B16, V12.B16 \
	VAND  V31.B16, V13.B16, V13.B16 \
	VAND  V31.B16, V14.B16, V14.B16 \
	VAND  V31.B16, V15.B16, V15.B16 \
	VAND  V31.B16, V8.B16, V16.B16  \
	VAND  V31.B16, V9.B16, V17.B16

// func i2sRowsSDOT(w *byte, q *int8, nBlocks int, nRows int, stride int, out *int32)
TEXT ·i2sRowsSDOT(SB), NOSPLIT, $0-48
	MOVD w+0(FP), R0
	MOVD q+8(FP), R1
	MOVD nBlocks+16(FP), R2
	MOVD nRows+24(FP), R3
	MOVD stride+32(FP), R4
	MOVD out+40(FP), R5
	VMOVI $3, V31.B16

sdotRow:
	MOVD R0, R6
	MOVD R1, R7
	MOVD R2, R8
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16
	VEOR V26.B16, V26.B16, V26.B16
	VEOR V27.B16, V27.B16, V27.B16

sdotBlock:
	VLD1.P 32(R6), [V8.B16, V9.B16]
	VLD1.P 64(R7), [V0.B16, V1.B16, V2.B16, V3.B16]
	VLD1.P 64(R7), [V4.B16, V5.B16, V6.B16, V7.B16]
	I2S_CODES
	SDOT(24, 10, 0) // SDOT V24.4S, V10.16B, V0.16B
	SDOT(25, 11, 1) // SDOT V25.4S, V11.16B, V1.16B
	SDOT(26, 12, 2) // SDOT V26.4S, V12.16B, V2.16B
	SDOT(27, 13, 3) // SDOT V27.4S, V13.16B, V3.16B
	SDOT(24, 14, 4) // SDOT V24.4S, V14.16B, V4.16B
	SDOT(25, 15, 5) // SDOT V25.4S, V15.16B, V5.16B
	SDOT(26, 16, 6) // SDOT V26.4S, V16.16B, V6.16B
	SDOT(27, 17, 7) // SDOT V27.4S, V17.16B, V7.16B
	SUBS $1, R8, R8
	BNE  sdotBlock

	VADD  V25.S4, V24.S4, V24.S4
	VADD  V27.S4, V26.S4, V26.S4
	VADD  V26.S4, V24.S4, V24.S4
	VADDV V24.S4, V24
	VMOV  V24.S[0], R9
	MOVW.P R9, 4(R5)
	ADD  R4, R0, R0
	SUBS $1, R3, R3
	BNE  sdotRow
	RET

// func i2sRowsNEON(w *byte, q *int8, nBlocks int, nRows int, stride int, out *int32)
//
// Products of a code (0..3) and an int8 are at most 384 in magnitude, so the
// 16 that meet in one 16-bit lane per block (two accumulators, eight each)
// cannot overflow before SADALP widens them into the 32-bit sums.
TEXT ·i2sRowsNEON(SB), NOSPLIT, $0-48
	MOVD w+0(FP), R0
	MOVD q+8(FP), R1
	MOVD nBlocks+16(FP), R2
	MOVD nRows+24(FP), R3
	MOVD stride+32(FP), R4
	MOVD out+40(FP), R5
	VMOVI $3, V31.B16

neonRow:
	MOVD R0, R6
	MOVD R1, R7
	MOVD R2, R8
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16

neonBlock:
	VLD1.P 32(R6), [V8.B16, V9.B16]
	VLD1.P 64(R7), [V0.B16, V1.B16, V2.B16, V3.B16]
	VLD1.P 64(R7), [V4.B16, V5.B16, V6.B16, V7.B16]
	I2S_CODES
	SMULL(20, 10, 0)  // SMULL  V20.8H, V10.8B, V0.8B
	SMULL(21, 11, 1)  // SMULL  V21.8H, V11.8B, V1.8B
	SMLAL2(20, 10, 0) // SMLAL2 V20.8H, V10.16B, V0.16B
	SMLAL2(21, 11, 1) // SMLAL2 V21.8H, V11.16B, V1.16B
	SMLAL(20, 12, 2)  // SMLAL  V20.8H, V12.8B, V2.8B
	SMLAL(21, 13, 3)  // SMLAL  V21.8H, V13.8B, V3.8B
	SMLAL2(20, 12, 2) // SMLAL2 V20.8H, V12.16B, V2.16B
	SMLAL2(21, 13, 3) // SMLAL2 V21.8H, V13.16B, V3.16B
	SMLAL(20, 14, 4)  // SMLAL  V20.8H, V14.8B, V4.8B
	SMLAL(21, 15, 5)  // SMLAL  V21.8H, V15.8B, V5.8B
	SMLAL2(20, 14, 4) // SMLAL2 V20.8H, V14.16B, V4.16B
	SMLAL2(21, 15, 5) // SMLAL2 V21.8H, V15.16B, V5.16B
	SMLAL(20, 16, 6)  // SMLAL  V20.8H, V16.8B, V6.8B
	SMLAL(21, 17, 7)  // SMLAL  V21.8H, V17.8B, V7.8B
	SMLAL2(20, 16, 6) // SMLAL2 V20.8H, V16.16B, V6.16B
	SMLAL2(21, 17, 7) // SMLAL2 V21.8H, V17.16B, V7.16B
	SADALP_H(24, 20)  // SADALP V24.4S, V20.8H
	SADALP_H(25, 21)  // SADALP V25.4S, V21.8H
	SUBS $1, R8, R8
	BNE  neonBlock

	VADD  V25.S4, V24.S4, V24.S4
	VADDV V24.S4, V24
	VMOV  V24.S[0], R9
	MOVW.P R9, 4(R5)
	ADD  R4, R0, R0
	SUBS $1, R3, R3
	BNE  neonRow
	RET

// I2S_TILE_SETUP prepares the registers of the i2sTile4 kernels, whose
// arguments are in R0 = w, R1 = q, R2 = qStride, R3 = nBlocks, R4 = nRows,
// R5 = stride, R6 = out, R7 = outStride: outStride becomes bytes and V31
// holds 3 in every byte.
#define I2S_TILE_SETUP \
	LSL   $2, R7, R7 \
	VMOVI $3, V31.B16

// I2S_TILE_ROW_START points R8 at the row's weights, R9..R12 at the four
// tokens' activations and R13 at the block count.
#define I2S_TILE_ROW_START \
	MOVD R0, R8       \
	MOVD R1, R9       \
	ADD  R2, R9, R10  \
	ADD  R2, R10, R11 \
	ADD  R2, R11, R12 \
	MOVD R3, R13

// I2S_LOAD_Q loads the 128 activations of one block of a token into V0-V7.
#define I2S_LOAD_Q(ptr) \
	VLD1.P 64(ptr), [V0.B16, V1.B16, V2.B16, V3.B16] \
	VLD1.P 64(ptr), [V4.B16, V5.B16, V6.B16, V7.B16]

// I2S_STORE adds the four lanes of acc and stores the sum at (ptr), moving
// ptr on by 4 bytes.
#define I2S_STORE(acc, ptr) \
	VADDV acc.S4, acc  \
	VMOV  acc.S[0], R14 \
	MOVW.P R14, 4(ptr)

// SDOT_BLOCK adds the dot products of the codes V10-V17 with the activations
// V0-V7 into the accumulators a and b (register numbers).
#define SDOT_BLOCK(a, b) \
	SDOT(a, 10, 0) \
	SDOT(b, 11, 1) \
	SDOT(a, 12, 2) \
	SDOT(b, 13, 3) \
	SDOT(a, 14, 4) \
	SDOT(b, 15, 5) \
	SDOT(a, 16, 6) \
	SDOT(b, 17, 7)

// func i2sTile4SDOT(w *byte, q *int8, qStride int, nBlocks int, nRows int, stride int, out *int32, outStride int)
// out[t*outStride+r] = sum_k code(w[r*stride:], k) * q[t*qStride+k] for
// t < 4, r < nRows, K = 128*nBlocks (strides of q and out in elements).
// Each weight block is unpacked once for the four tokens.
TEXT ·i2sTile4SDOT(SB), NOSPLIT, $0-64
	MOVD w+0(FP), R0
	MOVD q+8(FP), R1
	MOVD qStride+16(FP), R2
	MOVD nBlocks+24(FP), R3
	MOVD nRows+32(FP), R4
	MOVD stride+40(FP), R5
	MOVD out+48(FP), R6
	MOVD outStride+56(FP), R7
	I2S_TILE_SETUP

sdotTileRow:
	I2S_TILE_ROW_START
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16

sdotTileBlock:
	VLD1.P 32(R8), [V8.B16, V9.B16]
	I2S_CODES
	I2S_LOAD_Q(R9)
	SDOT_BLOCK(18, 19)
	I2S_LOAD_Q(R10)
	SDOT_BLOCK(20, 21)
	I2S_LOAD_Q(R11)
	SDOT_BLOCK(22, 23)
	I2S_LOAD_Q(R12)
	SDOT_BLOCK(24, 25)
	SUBS $1, R13, R13
	BNE  sdotTileBlock

	VADD V19.S4, V18.S4, V18.S4
	VADD V21.S4, V20.S4, V20.S4
	VADD V23.S4, V22.S4, V22.S4
	VADD V25.S4, V24.S4, V24.S4
	ADD  R7, R6, R15
	ADD  R7, R15, R16
	ADD  R7, R16, R17
	I2S_STORE(V18, R6)
	I2S_STORE(V20, R15)
	I2S_STORE(V22, R16)
	I2S_STORE(V24, R17)
	ADD  R5, R0, R0
	SUBS $1, R4, R4
	BNE  sdotTileRow
	RET

// func i2sTile2SDOT(w *byte, q *int8, qStride int, nBlocks int, nRows int, stride int, out *int32, outStride int)
// i2sTile4SDOT for two tokens.
TEXT ·i2sTile2SDOT(SB), NOSPLIT, $0-64
	MOVD w+0(FP), R0
	MOVD q+8(FP), R1
	MOVD qStride+16(FP), R2
	MOVD nBlocks+24(FP), R3
	MOVD nRows+32(FP), R4
	MOVD stride+40(FP), R5
	MOVD out+48(FP), R6
	MOVD outStride+56(FP), R7
	I2S_TILE_SETUP

sdotTile2Row:
	I2S_TILE_ROW_START
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16

sdotTile2Block:
	VLD1.P 32(R8), [V8.B16, V9.B16]
	I2S_CODES
	I2S_LOAD_Q(R9)
	SDOT_BLOCK(18, 19)
	I2S_LOAD_Q(R10)
	SDOT_BLOCK(20, 21)
	SUBS $1, R13, R13
	BNE  sdotTile2Block

	VADD V19.S4, V18.S4, V18.S4
	VADD V21.S4, V20.S4, V20.S4
	ADD  R7, R6, R15
	I2S_STORE(V18, R6)
	I2S_STORE(V20, R15)
	ADD  R5, R0, R0
	SUBS $1, R4, R4
	BNE  sdotTile2Row
	RET

// NEON_BLOCK adds the products of the codes V10-V17 with the activations
// V0-V7 into the 32-bit accumulator acc (a register number), through the
// 16-bit sums V26 and V27 (16 products of at most 384 in magnitude each).
#define NEON_BLOCK(acc) \
	SMULL(26, 10, 0)  \
	SMULL(27, 11, 1)  \
	SMLAL2(26, 10, 0) \
	SMLAL2(27, 11, 1) \
	SMLAL(26, 12, 2)  \
	SMLAL(27, 13, 3)  \
	SMLAL2(26, 12, 2) \
	SMLAL2(27, 13, 3) \
	SMLAL(26, 14, 4)  \
	SMLAL(27, 15, 5)  \
	SMLAL2(26, 14, 4) \
	SMLAL2(27, 15, 5) \
	SMLAL(26, 16, 6)  \
	SMLAL(27, 17, 7)  \
	SMLAL2(26, 16, 6) \
	SMLAL2(27, 17, 7) \
	SADALP_H(acc, 26) \
	SADALP_H(acc, 27)

// func i2sTile4NEON(w *byte, q *int8, qStride int, nBlocks int, nRows int, stride int, out *int32, outStride int)
// i2sTile4SDOT with widening multiplies.
TEXT ·i2sTile4NEON(SB), NOSPLIT, $0-64
	MOVD w+0(FP), R0
	MOVD q+8(FP), R1
	MOVD qStride+16(FP), R2
	MOVD nBlocks+24(FP), R3
	MOVD nRows+32(FP), R4
	MOVD stride+40(FP), R5
	MOVD out+48(FP), R6
	MOVD outStride+56(FP), R7
	I2S_TILE_SETUP

neonTileRow:
	I2S_TILE_ROW_START
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16

neonTileBlock:
	VLD1.P 32(R8), [V8.B16, V9.B16]
	I2S_CODES
	I2S_LOAD_Q(R9)
	NEON_BLOCK(18)
	I2S_LOAD_Q(R10)
	NEON_BLOCK(19)
	I2S_LOAD_Q(R11)
	NEON_BLOCK(20)
	I2S_LOAD_Q(R12)
	NEON_BLOCK(21)
	SUBS $1, R13, R13
	BNE  neonTileBlock

	ADD R7, R6, R15
	ADD R7, R15, R16
	ADD R7, R16, R17
	I2S_STORE(V18, R6)
	I2S_STORE(V19, R15)
	I2S_STORE(V20, R16)
	I2S_STORE(V21, R17)
	ADD  R5, R0, R0
	SUBS $1, R4, R4
	BNE  neonTileRow
	RET

// func i2sTile2NEON(w *byte, q *int8, qStride int, nBlocks int, nRows int, stride int, out *int32, outStride int)
// i2sTile4NEON for two tokens.
TEXT ·i2sTile2NEON(SB), NOSPLIT, $0-64
	MOVD w+0(FP), R0
	MOVD q+8(FP), R1
	MOVD qStride+16(FP), R2
	MOVD nBlocks+24(FP), R3
	MOVD nRows+32(FP), R4
	MOVD stride+40(FP), R5
	MOVD out+48(FP), R6
	MOVD outStride+56(FP), R7
	I2S_TILE_SETUP

neonTile2Row:
	I2S_TILE_ROW_START
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16

neonTile2Block:
	VLD1.P 32(R8), [V8.B16, V9.B16]
	I2S_CODES
	I2S_LOAD_Q(R9)
	NEON_BLOCK(18)
	I2S_LOAD_Q(R10)
	NEON_BLOCK(19)
	SUBS $1, R13, R13
	BNE  neonTile2Block

	ADD R7, R6, R15
	I2S_STORE(V18, R6)
	I2S_STORE(V19, R15)
	ADD  R5, R0, R0
	SUBS $1, R4, R4
	BNE  neonTile2Row
	RET

// I2S_ROWS4_START points R8-R11 at four consecutive weight rows (R0 and
// stride R4), R7 at the activations (R1) and R12 at the block count (R2).
#define I2S_ROWS4_START \
	MOVD R0, R8       \
	ADD  R4, R8, R9   \
	ADD  R4, R9, R10  \
	ADD  R4, R10, R11 \
	MOVD R1, R7       \
	MOVD R2, R12

// I2S_LOAD_W loads the 32 bytes of one weight block of a row into V8-V9
// and unpacks its codes into V10-V17.
#define I2S_LOAD_W(ptr) \
	VLD1.P 32(ptr), [V8.B16, V9.B16] \
	I2S_CODES

// func i2sRows4SDOT(w *byte, q *int8, nBlocks int, nRows int, stride int, out *int32)
// i2sRowsSDOT for nRows a positive multiple of 4: four rows at a time, so
// that each block of activations is loaded once for the four.
TEXT ·i2sRows4SDOT(SB), NOSPLIT, $0-48
	MOVD w+0(FP), R0
	MOVD q+8(FP), R1
	MOVD nBlocks+16(FP), R2
	MOVD nRows+24(FP), R3
	MOVD stride+32(FP), R4
	MOVD out+40(FP), R5
	VMOVI $3, V31.B16
	LSL  $2, R4, R6

sdotRows4:
	I2S_ROWS4_START
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16

sdotRows4Block:
	I2S_LOAD_Q(R7)
	I2S_LOAD_W(R8)
	SDOT_BLOCK(18, 19)
	I2S_LOAD_W(R9)
	SDOT_BLOCK(20, 21)
	I2S_LOAD_W(R10)
	SDOT_BLOCK(22, 23)
	I2S_LOAD_W(R11)
	SDOT_BLOCK(24, 25)
	SUBS $1, R12, R12
	BNE  sdotRows4Block

	VADD V19.S4, V18.S4, V18.S4
	VADD V21.S4, V20.S4, V20.S4
	VADD V23.S4, V22.S4, V22.S4
	VADD V25.S4, V24.S4, V24.S4
	I2S_STORE(V18, R5)
	I2S_STORE(V20, R5)
	I2S_STORE(V22, R5)
	I2S_STORE(V24, R5)
	ADD  R6, R0, R0
	SUBS $4, R3, R3
	BNE  sdotRows4
	RET

// func i2sRows4NEON(w *byte, q *int8, nBlocks int, nRows int, stride int, out *int32)
// i2sRows4SDOT with widening multiplies.
TEXT ·i2sRows4NEON(SB), NOSPLIT, $0-48
	MOVD w+0(FP), R0
	MOVD q+8(FP), R1
	MOVD nBlocks+16(FP), R2
	MOVD nRows+24(FP), R3
	MOVD stride+32(FP), R4
	MOVD out+40(FP), R5
	VMOVI $3, V31.B16
	LSL  $2, R4, R6

neonRows4:
	I2S_ROWS4_START
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16

neonRows4Block:
	I2S_LOAD_Q(R7)
	I2S_LOAD_W(R8)
	NEON_BLOCK(18)
	I2S_LOAD_W(R9)
	NEON_BLOCK(19)
	I2S_LOAD_W(R10)
	NEON_BLOCK(20)
	I2S_LOAD_W(R11)
	NEON_BLOCK(21)
	SUBS $1, R12, R12
	BNE  neonRows4Block

	I2S_STORE(V18, R5)
	I2S_STORE(V19, R5)
	I2S_STORE(V20, R5)
	I2S_STORE(V21, R5)
	ADD  R6, R0, R0
	SUBS $4, R3, R3
	BNE  neonRows4
	RET

// func sumI8NEON(q *int8, n int) int32
// n is a positive multiple of 16.
TEXT ·sumI8NEON(SB), NOSPLIT, $0-20
	MOVD q+0(FP), R0
	MOVD n+8(FP), R1
	VEOR V2.B16, V2.B16, V2.B16

sumI8Loop:
	VLD1.P 16(R0), [V0.B16]
	SADDLP_B(1, 0) // SADDLP V1.8H, V0.16B
	SADALP_H(2, 1) // SADALP V2.4S, V1.8H
	SUBS $16, R1, R1
	BNE  sumI8Loop

	VADDV V2.S4, V2
	VMOV  V2.S[0], R2
	MOVW  R2, ret+16(FP)
	RET

// func absMaxNEON(x *float32, n int) float32
// n is a positive multiple of 16.
TEXT ·absMaxNEON(SB), NOSPLIT, $0-20
	MOVD x+0(FP), R0
	MOVD n+8(FP), R1
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16

absMaxLoop:
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	FABS4(0, 0)    // FABS V0.4S, V0.4S
	FABS4(1, 1)    // FABS V1.4S, V1.4S
	FABS4(2, 2)    // FABS V2.4S, V2.4S
	FABS4(3, 3)    // FABS V3.4S, V3.4S
	FMAX4(4, 4, 0) // FMAX V4.4S, V4.4S, V0.4S
	FMAX4(5, 5, 1) // FMAX V5.4S, V5.4S, V1.4S
	FMAX4(6, 6, 2) // FMAX V6.4S, V6.4S, V2.4S
	FMAX4(7, 7, 3) // FMAX V7.4S, V7.4S, V3.4S
	SUBS $16, R1, R1
	BNE  absMaxLoop

	FMAX4(4, 4, 5) // FMAX V4.4S, V4.4S, V5.4S
	FMAX4(6, 6, 7) // FMAX V6.4S, V6.4S, V7.4S
	FMAX4(4, 4, 6) // FMAX V4.4S, V4.4S, V6.4S
	FMAXV4(4, 4)   // FMAXV S4, V4.4S
	FMOVS F4, ret+16(FP)
	RET

// func quantNEON(x *float32, n int, s float32, q *int8) int32
// n is a positive multiple of 16. q[k] = clamp(roundHalfEven(x[k]*s)) via
// FCVTNS and two saturating narrows; the sum is taken over the int8 results.
TEXT ·quantNEON(SB), NOSPLIT, $0-36
	MOVD  x+0(FP), R0
	MOVD  n+8(FP), R1
	MOVWU s+16(FP), R2
	MOVD  q+24(FP), R3
	VDUP  R2, V30.S4
	VEOR  V29.B16, V29.B16, V29.B16

quantLoop:
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	FMUL4(0, 0, 30) // FMUL V0.4S, V0.4S, V30.4S
	FMUL4(1, 1, 30) // FMUL V1.4S, V1.4S, V30.4S
	FMUL4(2, 2, 30) // FMUL V2.4S, V2.4S, V30.4S
	FMUL4(3, 3, 30) // FMUL V3.4S, V3.4S, V30.4S
	FCVTNS4(0, 0)   // FCVTNS V0.4S, V0.4S
	FCVTNS4(1, 1)   // FCVTNS V1.4S, V1.4S
	FCVTNS4(2, 2)   // FCVTNS V2.4S, V2.4S
	FCVTNS4(3, 3)   // FCVTNS V3.4S, V3.4S
	SQXTN_S(4, 0)   // SQXTN  V4.4H, V0.4S
	SQXTN2_S(4, 1)  // SQXTN2 V4.8H, V1.4S
	SQXTN_S(5, 2)   // SQXTN  V5.4H, V2.4S
	SQXTN2_S(5, 3)  // SQXTN2 V5.8H, V3.4S
	SQXTN_H(6, 4)   // SQXTN  V6.8B, V4.8H
	SQXTN2_H(6, 5)  // SQXTN2 V6.16B, V5.8H
	VST1.P [V6.B16], 16(R3)
	SADDLP_B(7, 6)  // SADDLP V7.8H, V6.16B
	SADALP_H(29, 7) // SADALP V29.4S, V7.8H
	SUBS $16, R1, R1
	BNE  quantLoop

	VADDV V29.S4, V29
	VMOV  V29.S[0], R4
	MOVW  R4, ret+32(FP)
	RET

// func f16RowsNEON(w *uint16, x *float32, n int, nRows int, stride int, out *float32)
// out[r] = sum_k f32(w[r*stride/2+k])*x[k] for r < nRows, k < n; n is a
// positive multiple of 16, stride in bytes. Four float32 partial sums.
TEXT ·f16RowsNEON(SB), NOSPLIT, $0-48
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R2
	MOVD nRows+24(FP), R3
	MOVD stride+32(FP), R4
	MOVD out+40(FP), R5

f16Row:
	MOVD R0, R6
	MOVD R1, R7
	MOVD R2, R8
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16

f16Loop:
	VLD1.P 32(R6), [V0.H8, V1.H8]
	VLD1.P 64(R7), [V4.S4, V5.S4, V6.S4, V7.S4]
	FCVTL_H(8, 0)     // FCVTL  V8.4S, V0.4H
	FCVTL2_H(9, 0)    // FCVTL2 V9.4S, V0.8H
	FCVTL_H(10, 1)    // FCVTL  V10.4S, V1.4H
	FCVTL2_H(11, 1)   // FCVTL2 V11.4S, V1.8H
	FMLA4(16, 8, 4)   // FMLA V16.4S, V8.4S, V4.4S
	FMLA4(17, 9, 5)   // FMLA V17.4S, V9.4S, V5.4S
	FMLA4(18, 10, 6)  // FMLA V18.4S, V10.4S, V6.4S
	FMLA4(19, 11, 7)  // FMLA V19.4S, V11.4S, V7.4S
	SUBS $16, R8, R8
	BNE  f16Loop

	FADD4(16, 16, 17)  // FADD  V16.4S, V16.4S, V17.4S
	FADD4(18, 18, 19)  // FADD  V18.4S, V18.4S, V19.4S
	FADD4(16, 16, 18)  // FADD  V16.4S, V16.4S, V18.4S
	FADDP4(16, 16, 16) // FADDP V16.4S, V16.4S, V16.4S
	FADDPS(16, 16)     // FADDP S16, V16.2S
	FMOVS F16, (R5)
	ADD  $4, R5, R5
	ADD  R4, R0, R0
	SUBS $1, R3, R3
	BNE  f16Row
	RET

// F16_TILE_TOKEN loads 16 activations of one token from ptr into V0-V3 and
// adds their products with the converted weights V8-V11 into the four
// accumulators a..a+3 (register numbers).
#define F16_TILE_TOKEN(ptr, a) \
	VLD1.P 64(ptr), [V0.S4, V1.S4, V2.S4, V3.S4] \
	FMLA4(a, 8, 0)     \
	FMLA4(a+1, 9, 1)   \
	FMLA4(a+2, 10, 2)  \
	FMLA4(a+3, 11, 3)

// F16_TILE_STORE adds the accumulators a..a+3 into one float32 and stores
// it at (ptr), moving ptr on by 4 bytes.
#define F16_TILE_STORE(a, ptr) \
	FADD4(a, a, a+1)     \
	FADD4(a+2, a+2, a+3) \
	FADD4(a, a, a+2)     \
	FADDP4(a, a, a)      \
	FADDPS(a, a)         \
	FMOVS.P F(a), 4(ptr)

// func f16Tile4NEON(w *uint16, x *float32, xStride int, n int, nRows int, stride int, out *float32, outStride int)
// out[t*outStride+r] = sum_k f32(w[r*stride/2+k]) * x[t*xStride+k] for
// t < 4, r < nRows, k < n; n a positive multiple of 16, stride in bytes,
// xStride and outStride in elements. Each weight is converted once for the
// four tokens; four float32 partial sums per token.
TEXT ·f16Tile4NEON(SB), NOSPLIT, $0-64
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD xStride+16(FP), R2
	MOVD n+24(FP), R3
	MOVD nRows+32(FP), R4
	MOVD stride+40(FP), R5
	MOVD out+48(FP), R6
	MOVD outStride+56(FP), R7
	LSL  $2, R2, R2
	LSL  $2, R7, R7
	ADD  R7, R6, R15
	ADD  R7, R15, R16
	ADD  R7, R16, R17

f16TileRow:
	MOVD R0, R8
	MOVD R1, R9
	ADD  R2, R9, R10
	ADD  R2, R10, R11
	ADD  R2, R11, R12
	MOVD R3, R13
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16
	VEOR V24.B16, V24.B16, V24.B16
	VEOR V25.B16, V25.B16, V25.B16
	VEOR V26.B16, V26.B16, V26.B16
	VEOR V27.B16, V27.B16, V27.B16
	VEOR V28.B16, V28.B16, V28.B16
	VEOR V29.B16, V29.B16, V29.B16
	VEOR V30.B16, V30.B16, V30.B16
	VEOR V31.B16, V31.B16, V31.B16

f16TileLoop:
	VLD1.P 32(R8), [V12.H8, V13.H8]
	FCVTL_H(8, 12)   // FCVTL  V8.4S, V12.4H
	FCVTL2_H(9, 12)  // FCVTL2 V9.4S, V12.8H
	FCVTL_H(10, 13)  // FCVTL  V10.4S, V13.4H
	FCVTL2_H(11, 13) // FCVTL2 V11.4S, V13.8H
	F16_TILE_TOKEN(R9, 16)
	F16_TILE_TOKEN(R10, 20)
	F16_TILE_TOKEN(R11, 24)
	F16_TILE_TOKEN(R12, 28)
	SUBS $16, R13, R13
	BNE  f16TileLoop

	F16_TILE_STORE(16, R6)
	F16_TILE_STORE(20, R15)
	F16_TILE_STORE(24, R16)
	F16_TILE_STORE(28, R17)
	ADD  R5, R0, R0
	SUBS $1, R4, R4
	BNE  f16TileRow
	RET

// func f16Tile2NEON(w *uint16, x *float32, xStride int, n int, nRows int, stride int, out *float32, outStride int)
// f16Tile4NEON for two tokens.
TEXT ·f16Tile2NEON(SB), NOSPLIT, $0-64
	MOVD w+0(FP), R0
	MOVD x+8(FP), R1
	MOVD xStride+16(FP), R2
	MOVD n+24(FP), R3
	MOVD nRows+32(FP), R4
	MOVD stride+40(FP), R5
	MOVD out+48(FP), R6
	MOVD outStride+56(FP), R7
	LSL  $2, R2, R2
	LSL  $2, R7, R7
	ADD  R7, R6, R15

f16Tile2Row:
	MOVD R0, R8
	MOVD R1, R9
	ADD  R2, R9, R10
	MOVD R3, R13
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16

f16Tile2Loop:
	VLD1.P 32(R8), [V12.H8, V13.H8]
	FCVTL_H(8, 12)   // FCVTL  V8.4S, V12.4H
	FCVTL2_H(9, 12)  // FCVTL2 V9.4S, V12.8H
	FCVTL_H(10, 13)  // FCVTL  V10.4S, V13.4H
	FCVTL2_H(11, 13) // FCVTL2 V11.4S, V13.8H
	F16_TILE_TOKEN(R9, 16)
	F16_TILE_TOKEN(R10, 20)
	SUBS $16, R13, R13
	BNE  f16Tile2Loop

	F16_TILE_STORE(16, R6)
	F16_TILE_STORE(20, R15)
	ADD  R5, R0, R0
	SUBS $1, R4, R4
	BNE  f16Tile2Row
	RET

// func dotF32NEON(a *float32, b *float32, n int) float32
// n is a positive multiple of 16. Four float32 partial sums.
TEXT ·dotF32NEON(SB), NOSPLIT, $0-28
	MOVD a+0(FP), R0
	MOVD b+8(FP), R1
	MOVD n+16(FP), R2
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16

dotF32Loop:
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMLA4(16, 0, 4) // FMLA V16.4S, V0.4S, V4.4S
	FMLA4(17, 1, 5) // FMLA V17.4S, V1.4S, V5.4S
	FMLA4(18, 2, 6) // FMLA V18.4S, V2.4S, V6.4S
	FMLA4(19, 3, 7) // FMLA V19.4S, V3.4S, V7.4S
	SUBS $16, R2, R2
	BNE  dotF32Loop

	FADD4(16, 16, 17)  // FADD  V16.4S, V16.4S, V17.4S
	FADD4(18, 18, 19)  // FADD  V18.4S, V18.4S, V19.4S
	FADD4(16, 16, 18)  // FADD  V16.4S, V16.4S, V18.4S
	FADDP4(16, 16, 16) // FADDP V16.4S, V16.4S, V16.4S
	FADDPS(16, 16)     // FADDP S16, V16.2S
	FMOVS F16, ret+24(FP)
	RET

// func axpyF32NEON(a float32, x *float32, y *float32, n int)
// y[k] += a*x[k] (fused) for k < n; n is a positive multiple of 4.
TEXT ·axpyF32NEON(SB), NOSPLIT, $0-32
	MOVWU a+0(FP), R0
	MOVD  x+8(FP), R1
	MOVD  y+16(FP), R2
	MOVD  n+24(FP), R3
	VDUP  R0, V30.S4

axpyLoop:
	VLD1.P 16(R1), [V0.S4]
	VLD1   (R2), [V1.S4]
	FMLA4(1, 0, 30) // FMLA V1.4S, V0.4S, V30.4S
	VST1.P [V1.S4], 16(R2)
	SUBS $4, R3, R3
	BNE  axpyLoop
	RET

// func sumSqF64NEON(x *float32, n int) float64
// n is a positive multiple of 8. The squares of float32 values are exact in
// float64, so the fused multiply-adds round only the sums (four partial
// sums of two lanes each).
TEXT ·sumSqF64NEON(SB), NOSPLIT, $0-24
	MOVD x+0(FP), R0
	MOVD n+8(FP), R1
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16

sumSqLoop:
	VLD1.P 32(R0), [V0.S4, V1.S4]
	FCVTL_S(2, 0)    // FCVTL  V2.2D, V0.2S
	FCVTL2_S(3, 0)   // FCVTL2 V3.2D, V0.4S
	FCVTL_S(4, 1)    // FCVTL  V4.2D, V1.2S
	FCVTL2_S(5, 1)   // FCVTL2 V5.2D, V1.4S
	FMLA2D(16, 2, 2) // FMLA V16.2D, V2.2D, V2.2D
	FMLA2D(17, 3, 3) // FMLA V17.2D, V3.2D, V3.2D
	FMLA2D(18, 4, 4) // FMLA V18.2D, V4.2D, V4.2D
	FMLA2D(19, 5, 5) // FMLA V19.2D, V5.2D, V5.2D
	SUBS $8, R1, R1
	BNE  sumSqLoop

	FADD2D(16, 16, 17) // FADD V16.2D, V16.2D, V17.2D
	FADD2D(18, 18, 19) // FADD V18.2D, V18.2D, V19.2D
	FADD2D(16, 16, 18) // FADD V16.2D, V16.2D, V18.2D
	FADDPD(16, 16)     // FADDP D16, V16.2D
	FMOVD F16, ret+16(FP)
	RET

// func scaleMulF32NEON(dst *float32, x *float32, w *float32, s float32, n int)
// dst[k] = (x[k]*s)*w[k]; n is a positive multiple of 4.
TEXT ·scaleMulF32NEON(SB), NOSPLIT, $0-40
	MOVD  dst+0(FP), R0
	MOVD  x+8(FP), R1
	MOVD  w+16(FP), R2
	MOVWU s+24(FP), R3
	MOVD  n+32(FP), R4
	VDUP  R3, V30.S4

scaleMulLoop:
	VLD1.P 16(R1), [V0.S4]
	VLD1.P 16(R2), [V1.S4]
	FMUL4(0, 0, 30) // FMUL V0.4S, V0.4S, V30.4S
	FMUL4(0, 0, 1)  // FMUL V0.4S, V0.4S, V1.4S
	VST1.P [V0.S4], 16(R0)
	SUBS $4, R4, R4
	BNE  scaleMulLoop
	RET

// func scaleF32NEON(dst *float32, x *float32, s float32, n int)
// dst[k] = x[k]*s; n is a positive multiple of 4.
TEXT ·scaleF32NEON(SB), NOSPLIT, $0-32
	MOVD  dst+0(FP), R0
	MOVD  x+8(FP), R1
	MOVWU s+16(FP), R2
	MOVD  n+24(FP), R3
	VDUP  R2, V30.S4

scaleLoop:
	VLD1.P 16(R1), [V0.S4]
	FMUL4(0, 0, 30) // FMUL V0.4S, V0.4S, V30.4S
	VST1.P [V0.S4], 16(R0)
	SUBS $4, R3, R3
	BNE  scaleLoop
	RET

// func addF32NEON(dst *float32, a *float32, b *float32, n int)
// dst[k] = a[k]+b[k]; n is a positive multiple of 4.
TEXT ·addF32NEON(SB), NOSPLIT, $0-32
	MOVD dst+0(FP), R0
	MOVD a+8(FP), R1
	MOVD b+16(FP), R2
	MOVD n+24(FP), R3

addLoop:
	VLD1.P 16(R1), [V0.S4]
	VLD1.P 16(R2), [V1.S4]
	FADD4(0, 0, 1) // FADD V0.4S, V0.4S, V1.4S
	VST1.P [V0.S4], 16(R0)
	SUBS $4, R3, R3
	BNE  addLoop
	RET

// func relu2MulF32NEON(dst *float32, gate *float32, up *float32, n int)
// dst[k] = (r*r)*u[k] with r = max(g[k], 0) (FMAX: NaN stays NaN, -0 gives
// +0, as Go's max); n is a positive multiple of 4.
TEXT ·relu2MulF32NEON(SB), NOSPLIT, $0-32
	MOVD dst+0(FP), R0
	MOVD gate+8(FP), R1
	MOVD up+16(FP), R2
	MOVD n+24(FP), R3
	VEOR V31.B16, V31.B16, V31.B16

relu2Loop:
	VLD1.P 16(R1), [V0.S4]
	VLD1.P 16(R2), [V1.S4]
	FMAX4(0, 0, 31) // FMAX V0.4S, V0.4S, V31.4S
	FMUL4(0, 0, 0)  // FMUL V0.4S, V0.4S, V0.4S
	FMUL4(0, 0, 1)  // FMUL V0.4S, V0.4S, V1.4S
	VST1.P [V0.S4], 16(R0)
	SUBS $4, R3, R3
	BNE  relu2Loop
	RET

// func dequantI32NEON(dst *float32, dots *int32, sum int32, div float32, mul float32, n int)
// dst[k] = (float32(dots[k]-sum)/div)*mul (wrapping int32 difference);
// n is a positive multiple of 4.
TEXT ·dequantI32NEON(SB), NOSPLIT, $0-40
	MOVD  dst+0(FP), R0
	MOVD  dots+8(FP), R1
	MOVWU sum+16(FP), R2
	MOVWU div+20(FP), R3
	MOVWU mul+24(FP), R4
	MOVD  n+32(FP), R5
	VDUP  R2, V28.S4
	VDUP  R3, V29.S4
	VDUP  R4, V30.S4

dequantLoop:
	VLD1.P 16(R1), [V0.S4]
	VSUB   V28.S4, V0.S4, V0.S4
	SCVTF4(0, 0)    // SCVTF V0.4S, V0.4S
	FDIV4(0, 0, 29) // FDIV  V0.4S, V0.4S, V29.4S
	FMUL4(0, 0, 30) // FMUL  V0.4S, V0.4S, V30.4S
	VST1.P [V0.S4], 16(R0)
	SUBS $4, R5, R5
	BNE  dequantLoop
	RET

// func axpysF32NEON(p *float32, v *float32, stride int, n int, hd int, acc *float32)
// acc[d] += p[j]*v[j*stride/4+d] (one fused multiply-add per term) for
// j = 0..n-1 in order and d < hd; stride in bytes, n > 0, hd a positive
// multiple of 4.
TEXT ·axpysF32NEON(SB), NOSPLIT, $0-48
	MOVD p+0(FP), R0
	MOVD v+8(FP), R1
	MOVD stride+16(FP), R2
	MOVD n+24(FP), R3
	MOVD hd+32(FP), R4
	MOVD acc+40(FP), R5

axpysRow:
	MOVWU.P 4(R0), R6
	VDUP    R6, V30.S4
	MOVD    R1, R7
	MOVD    R5, R8
	MOVD    R4, R9

axpysCol:
	VLD1.P 16(R7), [V0.S4]
	VLD1   (R8), [V1.S4]
	FMLA4(1, 0, 30) // FMLA V1.4S, V0.4S, V30.4S
	VST1.P [V1.S4], 16(R8)
	SUBS $4, R9, R9
	BNE  axpysCol
	ADD  R2, R1, R1
	SUBS $1, R3, R3
	BNE  axpysRow
	RET

// func axpysF16NEON(p *float32, v *uint16, stride int, n int, hd int, acc *float32)
// axpysF32NEON with F16 values (converted exactly, then the same fused
// multiply-adds); stride in bytes.
TEXT ·axpysF16NEON(SB), NOSPLIT, $0-48
	MOVD p+0(FP), R0
	MOVD v+8(FP), R1
	MOVD stride+16(FP), R2
	MOVD n+24(FP), R3
	MOVD hd+32(FP), R4
	MOVD acc+40(FP), R5

axpys16Row:
	MOVWU.P 4(R0), R6
	VDUP    R6, V30.S4
	MOVD    R1, R7
	MOVD    R5, R8
	MOVD    R4, R9

axpys16Col:
	VLD1.P 8(R7), [V0.H4]
	VLD1   (R8), [V1.S4]
	FCVTL_H(0, 0)   // FCVTL V0.4S, V0.4H
	FMLA4(1, 0, 30) // FMLA  V1.4S, V0.4S, V30.4S
	VST1.P [V1.S4], 16(R8)
	SUBS $4, R9, R9
	BNE  axpys16Col
	ADD  R2, R1, R1
	SUBS $1, R3, R3
	BNE  axpys16Row
	RET

// func f32ToF16NEON(dst *uint16, src *float32, n int)
// dst[k] = f16(src[k]), nearest even (NaNs keep their sign and top payload
// bits and become quiet); n is a positive multiple of 8.
TEXT ·f32ToF16NEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2

toF16Loop:
	VLD1.P 32(R1), [V0.S4, V1.S4]
	FCVTN_S(2, 0)  // FCVTN  V2.4H, V0.4S
	FCVTN2_S(2, 1) // FCVTN2 V2.8H, V1.4S
	VST1.P [V2.H8], 16(R0)
	SUBS $8, R2, R2
	BNE  toF16Loop
	RET

// func roundF16NEON(dst *float32, src *float32, n int)
// dst[k] = f32(f16(src[k])); n is a positive multiple of 4.
TEXT ·roundF16NEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2

roundF16Loop:
	VLD1.P 16(R1), [V0.S4]
	FCVTN_S(1, 0) // FCVTN V1.4H, V0.4S
	FCVTL_H(1, 1) // FCVTL V1.4S, V1.4H
	VST1.P [V1.S4], 16(R0)
	SUBS $4, R2, R2
	BNE  roundF16Loop
	RET

// func streamSumNEON(p *byte, n int) uint64
// The wrapping sum of the little-endian uint64 words of p[:n]; n is a
// positive multiple of 64.
TEXT ·streamSumNEON(SB), NOSPLIT, $0-24
	MOVD p+0(FP), R0
	MOVD n+8(FP), R1
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16

streamLoop:
	VLD1.P 64(R0), [V0.D2, V1.D2, V2.D2, V3.D2]
	VADD   V0.D2, V4.D2, V4.D2
	VADD   V1.D2, V5.D2, V5.D2
	VADD   V2.D2, V6.D2, V6.D2
	VADD   V3.D2, V7.D2, V7.D2
	SUBS   $64, R1, R1
	BNE    streamLoop

	VADD V5.D2, V4.D2, V4.D2
	VADD V7.D2, V6.D2, V6.D2
	VADD V6.D2, V4.D2, V4.D2
	VMOV V4.D[0], R2
	VMOV V4.D[1], R3
	ADD  R3, R2, R2
	MOVD R2, ret+16(FP)
	RET

// func scaleMaxF32NEON(s *float32, n int, scale float32) float32
// s[k] *= scale for k < n and returns the largest result (FMAX: a NaN is
// returned as Go's max returns it); n is a positive multiple of 4.
TEXT ·scaleMaxF32NEON(SB), NOSPLIT, $0-28
	MOVD  s+0(FP), R0
	MOVD  n+8(FP), R1
	MOVWU scale+16(FP), R2
	VDUP  R2, V30.S4
	MOVW  $0xff800000, R3 // -Inf
	VDUP  R3, V1.S4

scaleMaxLoop:
	VLD1   (R0), [V0.S4]
	FMUL4(0, 0, 30) // FMUL V0.4S, V0.4S, V30.4S
	FMAX4(1, 1, 0)  // FMAX V1.4S, V1.4S, V0.4S
	VST1.P [V0.S4], 16(R0)
	SUBS $4, R1, R1
	BNE  scaleMaxLoop

	FMAXV4(1, 1) // FMAXV S1, V1.4S
	FMOVS F1, ret+24(FP)
	RET

// func expSubF32NEON(s *float32, n int, mx float32) float64
// s[k] = Expf(s[k]-mx) for k < n and returns the sum of the results in
// float64 (four partial sums); n is a positive multiple of 4.
//
// Expf's bits: the Go compiler fuses the multiply-adds of Expf on arm64
// (x*log2e-0.5, x-fn*c1-fn*c2 and each Horner step, then an unfused +1), and
// this code fuses the same ones in the same order. x*log2e-0.5 is computed
// as -(0.5-x*log2e), the same rounding.
TEXT ·expSubF32NEON(SB), NOSPLIT, $0-32
	MOVD  s+0(FP), R0
	MOVD  n+8(FP), R1
	MOVWU mx+16(FP), R2
	VDUP  R2, V20.S4
	MOVW  $0x3fb8aa3b, R3 // log2e
	VDUP  R3, V21.S4
	MOVW  $0x3f000000, R3 // 0.5 (also the last polynomial coefficient)
	VDUP  R3, V22.S4
	MOVW  $0x3f318000, R3 // c1 = 0.693359375
	VDUP  R3, V23.S4
	MOVW  $0xb95e8083, R3 // c2 = -2.12194440e-4
	VDUP  R3, V24.S4
	MOVW  $0x39506967, R3 // 1.9875691500e-4
	VDUP  R3, V25.S4
	MOVW  $0x3ab743ce, R3 // 1.3981999507e-3
	VDUP  R3, V26.S4
	MOVW  $0x3c088908, R3 // 8.3334519073e-3
	VDUP  R3, V27.S4
	MOVW  $0x3d2aa9c1, R3 // 4.1665795894e-2
	VDUP  R3, V28.S4
	MOVW  $0x3e2aaaaa, R3 // 1.6666665459e-1
	VDUP  R3, V29.S4
	MOVW  $0x3f800000, R3 // 1
	VDUP  R3, V30.S4
	MOVW  $0xc2ae999a, R3 // -87.3
	VDUP  R3, V31.S4
	MOVW  $127, R3
	VDUP  R3, V19.S4
	VEOR  V16.B16, V16.B16, V16.B16
	VEOR  V17.B16, V17.B16, V17.B16

expLoop:
	VLD1 (R0), [V0.S4]
	FSUB4(0, 0, 20)   // FSUB   V0.4S, V0.4S, V20.4S    x = s-mx
	VORR V22.B16, V22.B16, V1.B16
	FMLS4(1, 0, 21)   // FMLS   V1.4S, V0.4S, V21.4S    0.5 - x*log2e
	FNEG4(1, 1)       // FNEG   V1.4S, V1.4S
	FCVTZS4(2, 1)     // FCVTZS V2.4S, V1.4S            n
	SCVTF4(3, 2)      // SCVTF  V3.4S, V2.4S            fn
	VORR V0.B16, V0.B16, V4.B16
	FMLS4(4, 3, 23)   // FMLS   V4.4S, V3.4S, V23.4S    x - fn*c1
	FMLS4(4, 3, 24)   // FMLS   V4.4S, V3.4S, V24.4S    r = .. - fn*c2
	FMUL4(5, 4, 4)    // FMUL   V5.4S, V4.4S, V4.4S     z = r*r
	VORR V26.B16, V26.B16, V6.B16
	FMLA4(6, 4, 25)   // FMLA   V6.4S, V4.4S, V25.4S
	VORR V27.B16, V27.B16, V7.B16
	FMLA4(7, 4, 6)    // FMLA   V7.4S, V4.4S, V6.4S
	VORR V28.B16, V28.B16, V6.B16
	FMLA4(6, 4, 7)    // FMLA   V6.4S, V4.4S, V7.4S
	VORR V29.B16, V29.B16, V7.B16
	FMLA4(7, 4, 6)    // FMLA   V7.4S, V4.4S, V6.4S
	VORR V22.B16, V22.B16, V6.B16
	FMLA4(6, 4, 7)    // FMLA   V6.4S, V4.4S, V7.4S     polynomial
	VORR V4.B16, V4.B16, V7.B16
	FMLA4(7, 5, 6)    // FMLA   V7.4S, V5.4S, V6.4S     r + z*p
	FADD4(7, 7, 30)   // FADD   V7.4S, V7.4S, V30.4S    + 1
	VADD V19.S4, V2.S4, V2.S4
	VSHL $23, V2.S4, V2.S4                           // 2^n
	FMUL4(7, 7, 2)    // FMUL   V7.4S, V7.4S, V2.4S
	FCMGT4(8, 31, 0)  // FCMGT  V8.4S, V31.4S, V0.4S    x < -87.3
	BIC16(7, 7, 8)    // BIC    V7.16B, V7.16B, V8.16B  gives 0 there
	VST1.P [V7.S4], 16(R0)
	FCVTL_S(9, 7)      // FCVTL  V9.2D, V7.2S
	FCVTL2_S(10, 7)    // FCVTL2 V10.2D, V7.4S
	FADD2D(16, 16, 9)  // FADD   V16.2D, V16.2D, V9.2D
	FADD2D(17, 17, 10) // FADD   V17.2D, V17.2D, V10.2D
	SUBS $4, R1, R1
	BNE  expLoop

	FADD2D(16, 16, 17) // FADD V16.2D, V16.2D, V17.2D
	FADDPD(16, 16)     // FADDP D16, V16.2D
	FMOVD F16, ret+24(FP)
	RET
