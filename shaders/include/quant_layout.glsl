// The device layouts of Q8_0 and Q6_K rows (gpu/layout.go writes them):
// per row, the codes, then the scales, in streams that aligned 16-byte
// loads read; every row starts on a 16-byte boundary. Define QBUF, the uint
// array holding the rows, before including; rb is a row's byte offset in it.
#ifndef QUANT_LAYOUT_GLSL
#define QUANT_LAYOUT_GLSL

#include "numerics.glsl"

// Q8_0: [K int8 codes][K/32 fp16 block scales], padded to 16 bytes.
uint q8_0_row_bytes(uint k) { return (k + k / 16u + 15u) & ~15u; }

// Q6_K: [K/2 low nibbles][K/4 high bit pairs][K/16 int8 group scales]
// [K/256 fp16 block scales], padded to 16 bytes; the codes in units of 32
// weights (see gpu/layout.go).
uint q6_k_row_bytes(uint k) { return (k / 2u + k / 4u + k / 16u + k / 128u + 15u) & ~15u; }

// The value of weight e of a Q8_0 row of k values: code * d.
float q8_0_value(uint rb, uint k, uint e) {
    int q = bitfieldExtract(int(BYTE_AT(QBUF, rb + e)), 0, 8);
    return float(q) * HALF_AT(QBUF, (rb + k) / 2u + e / 32u);
}

// The value of weight e of a Q6_K row of k values: (d * scale) * (code - 32).
float q6_k_value(uint rb, uint k, uint e) {
    uint u = e / 32u, m = e % 32u;
    uint g = m / 16u, i = (m % 16u) / 4u, l = m % 4u;
    uint lo = (BYTE_AT(QBUF, rb + 16u * u + 4u * i + l) >> (4u * g)) & 15u;
    uint hi = (BYTE_AT(QBUF, rb + k / 2u + 8u * u + 4u * g + l) >> (2u * i)) & 3u;
    int sc = bitfieldExtract(int(BYTE_AT(QBUF, rb + 3u * k / 4u + e / 16u)), 0, 8);
    float d = HALF_AT(QBUF, (rb + 13u * k / 16u) / 2u + e / 256u);
    precise float s = d * float(sc);
    precise float v = s * float(int(lo | (hi << 4u)) - 32);
    return v;
}

#endif
