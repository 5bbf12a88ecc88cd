// Body of matmul_tq2_0_tiled / matmul_tq1_0_tiled (define TQ2 or TQ1, and
// DOT for the packed-dot-product variants, first): upstream ggml's ternary
// types times the Q8_K activations of many tokens (prompt processing),
// tiled in shared memory as matmul_i2s_tiled so that each weight block is
// read once per tile of BN tokens.
//
// A workgroup computes BM rows x BN tokens; each invocation a 4 x 4 block.
// The K loop steps half a block (128 weights) at a time: the rows' trits
// are staged as codes 0..2, one byte each, in 32 words per row (word kw
// holds weights 4kw..4kw+3 of the half), k-major so four rows are one
// 16-byte read; the tokens' int8 codes likewise. Per 256-weight block the
// integer sum of trit * q is exact (sum(code * q) - sum(q)), then, in
// block order, sumf += float(sumi) * (q8_scale * d): matmul_tq's (and the
// CPU reference's) result to the bit.
#include "tq_common.glsl"
#define TILE_QSUM // the code sums of Q8_K blocks are not stored
#include "tile_i8.glsl"

// word_at returns the four bytes of w from byte a (any alignment).
uint word_at(uint a) {
    uint i = a >> 2u, sh = (a & 3u) * 8u;
    uint lo = w[i];
    return sh == 0u ? lo : (lo >> sh) | (w[i + 1u] << (32u - sh));
}

// codes returns the codes (trit + 1) of weights 4kw..4kw+3 of half h of
// the block at byte base, one per byte.
uint codes(uint base, uint h, uint kw) {
#ifdef TQ2
    // Weight 128h + 32s + m is bits 2s of byte 32h + m.
    uint sft = kw / 8u, m = 4u * (kw % 8u);
    return (word_at(base + 32u * h + m) >> (2u * sft)) & 0x03030303u;
#else
    uint c = 0u;
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        c |= uint(trit(base, 128u * h + 4u * kw + i) + 1) << (8u * i);
    }
    return c;
#endif
}

void main() {
    uint tid = gl_LocalInvocationID.x;
    uint tx = tid % 16u, ty = tid / 16u;
    uint rbase = gl_WorkGroupID.x * BM;
    uint tbase = gl_WorkGroupID.y * BN;
    uint nb = p.k / 256u;
    uint qw = p.k / 4u; // activation words per token
    float sumf[4][4];
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        [[unroll]] for (uint j = 0u; j < 4u; j++) {
            sumf[i][j] = 0.0;
        }
    }
    for (uint b = 0u; b < nb; b++) {
        ivec4 acc[4];
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            acc[i] = ivec4(0);
        }
        ivec4 qsum = ivec4(0);
        for (uint h = 0u; h < 2u; h++) {
            // Weights: word kw of rows 4m..4m+3, two per invocation.
            [[unroll]] for (uint e = 0u; e < 2u; e++) {
                uint u = tid + 256u * e;
                uint m = u / 32u, kw = u % 32u;
                uvec4 wv;
                [[unroll]] for (uint i = 0u; i < 4u; i++) {
                    uint row = rbase + 4u * m + i;
                    wv[i] = row < p.rows ? codes(p.w_off + (row * nb + b) * BLOCK_BYTES, h, kw) : 0x01010101u;
                }
                wsh[kw * WS + m] = wv;
            }
            tile_stage_x(tid, tbase, b * 64u + h * 32u, qw);
            barrier();
            tile_dot(ty, tx, acc, qsum);
            barrier();
        }
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            uint row = rbase + ty * 4u + i;
            if (row >= p.rows) {
                continue;
            }
            uint base = p.w_off + (row * nb + b) * BLOCK_BYTES + D_AT;
            float d = f16_to_f32(BYTE_AT(w, base) | (BYTE_AT(w, base + 1u) << 8u));
            [[unroll]] for (uint j = 0u; j < 4u; j++) {
                uint tok = tbase + tx * 4u + j;
                if (tok < p.t) {
                    precise float dd = s[tok * nb + b] * d;
                    precise float prod = float(acc[i][j] - qsum[j]) * dd;
                    sumf[i][j] = sumf[i][j] + prod;
                }
            }
        }
    }
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        uint row = rbase + ty * 4u + i;
        [[unroll]] for (uint j = 0u; j < 4u; j++) {
            uint tok = tbase + tx * 4u + j;
            if (row < p.rows && tok < p.t) {
                y[p.y_off + tok * p.n + p.row0 + row] = sumf[i][j];
            }
        }
    }
}
