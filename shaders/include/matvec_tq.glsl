// Body of matvec_tq2_0 / matvec_tq1_0 (define TQ2 or TQ1 first): upstream
// ggml's ternary types times Q8_K activations (from quantize_q8k) for a few
// tokens, one subgroup per weight row. Each lane takes a quarter of a block
// per step (TQ2_0: 16 code bytes, 64 weights; TQ1_0: 16 base-3 bytes, 80
// weights, or the last 4 bytes, 16 weights); the quarters of a block sit in
// four neighbouring lanes, which add their integer sums exactly with
// shuffles. The float epilogue is matmul_tq2_0's and matmul_tq1_0's: in
// block order, sumf += float(sumi) * (q8_scale * d), so the results are the
// same bits. K, the row length, is a specialization constant.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : enable

#include "numerics.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint K = 2560u; // a multiple of 256
layout(constant_id = 2) const uint ROWS = 8u; // rows per workgroup (one per subgroup, if the subgroups are as wide as expected)
const uint NB = K / 256u;                     // blocks per row
const uint NQ = NB * 4u;                      // quarter blocks per row

layout(set = 0, binding = 0) readonly buffer Wt { uint w[]; };
layout(set = 0, binding = 1) readonly buffer Q { uint q[]; };
layout(set = 0, binding = 2) readonly buffer S { float s[]; }; // [t][K/256]
layout(set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint t;      // tokens (at most 4)
    uint n;      // output rows in total (dst row stride)
    uint rows;   // rows of this dispatch (a weight chunk)
    uint row0;   // output row of the chunk's first row
    uint y_off;
} p;

// The four bytes at byte offset o (even: blocks are 66 or 54 bytes) as a
// word.
uint word_at(uint o) {
    uint i = o >> 2u;
    if ((o & 2u) == 0u) {
        return w[i];
    }
    return (w[i] >> 16u) | (w[i + 1u] << 16u);
}

#ifdef TQ2
const uint BLOCK_BYTES = 66u; // 64 code bytes, then the fp16 d
const uint D_AT = 64u;

// sum over the four bytes of codes c (each 0..3) and of activations a
// (int8) of (c - 1) * a.
int dot_codes(uint c, uint a) {
    int acc = 0;
    [[unroll]] for (int k = 0; k < 4; k++) {
        acc += (int(bitfieldExtract(c, 8 * k, 8)) - 1) * bitfieldExtract(int(a), 8 * k, 8);
    }
    return acc;
}

// The code bytes of quarter c of the block at byte base.
void load_quarter(uint base, uint c, out uint cw[4]) {
    [[unroll]] for (uint j = 0u; j < 4u; j++) {
        cw[j] = word_at(base + 16u * c + 4u * j);
    }
}

// The integer dot product of quarter c (bytes cw) with the block's
// activations from word qb of q. Code byte m of half h holds weights
// h*128 + 32n + m (n = 0..3, in bits 2n+1:2n); quarter c is half c/2, m
// from 16 * (c & 1).
int quarter_dot(uint cw[4], uint c, uint qb) {
    qb += (c >> 1u) * 32u + (c & 1u) * 4u;
    int acc = 0;
    [[unroll]] for (uint nn = 0u; nn < 4u; nn++) {
        [[unroll]] for (uint j = 0u; j < 4u; j++) {
            acc += dot_codes((cw[j] >> (2u * nn)) & 0x03030303u, q[qb + nn * 8u + j]);
        }
    }
    return acc;
}
#else
const uint BLOCK_BYTES = 54u; // qs[48], qh[4], then the fp16 d
const uint D_AT = 52u;
const uint POW3[5] = uint[5](1u, 3u, 9u, 27u, 81u);

// sum over the four bytes of v of (trit n - 1) * the byte of a (int8). A
// byte holds five trits (four in qh) in base 3, scaled to 256/243: trit n
// is the top of 3 * (byte * 3^n mod 256), as ggml unpacks it.
int dot_trits(uint v, uint n, uint a) {
    int acc = 0;
    [[unroll]] for (int k = 0; k < 4; k++) {
        uint t = (bitfieldExtract(v, 8 * k, 8) * POW3[n]) & 255u;
        acc += (int((t * 3u) >> 8u) - 1) * bitfieldExtract(int(a), 8 * k, 8);
    }
    return acc;
}

// The bytes of quarter c of the block at byte base: qs[0..15], qs[16..31],
// qs[32..47], or qh (one word).
void load_quarter(uint base, uint c, out uint cw[4]) {
    [[unroll]] for (uint j = 0u; j < 4u; j++) {
        cw[j] = c < 3u || j == 0u ? word_at(base + 16u * c + 4u * j) : 0u;
    }
}

// The integer dot product of quarter c (bytes cw) with the block's
// activations from word qb of q: qs[m] (m < 32) holds weights m + 32n,
// qs[32 + m] weights 160 + m + 16n (n = 0..4), qh[j] weights 240 + j + 4n
// (n = 0..3).
int quarter_dot(uint cw[4], uint c, uint qb) {
    int acc = 0;
    if (c < 2u) {
        [[unroll]] for (uint nn = 0u; nn < 5u; nn++) {
            [[unroll]] for (uint j = 0u; j < 4u; j++) {
                acc += dot_trits(cw[j], nn, q[qb + 8u * nn + 4u * c + j]);
            }
        }
    } else if (c == 2u) {
        [[unroll]] for (uint nn = 0u; nn < 5u; nn++) {
            [[unroll]] for (uint j = 0u; j < 4u; j++) {
                acc += dot_trits(cw[j], nn, q[qb + 40u + 4u * nn + j]);
            }
        }
    } else {
        [[unroll]] for (uint nn = 0u; nn < 4u; nn++) {
            acc += dot_trits(cw[0], nn, q[qb + 60u + nn]);
        }
    }
    return acc;
}
#endif

void main() {
    uint lane = gl_SubgroupInvocationID;
    for (uint rr = gl_SubgroupID; rr < ROWS; rr += gl_NumSubgroups) {
        uint row = gl_WorkGroupID.x * ROWS + rr;
        if (row >= p.rows) {
            return;
        }
        uint rowb = row * NB * BLOCK_BYTES;
        vec4 sumf = vec4(0.0);
        // Every lane runs every step (the shuffles need them all); lanes
        // past the row's end add nothing.
        for (uint q0 = 0u; q0 < NQ; q0 += gl_SubgroupSize) {
            uint qi = q0 + lane;
            bool live = qi < NQ;
            uint b = qi >> 2u, c = qi & 3u; // block, quarter
            uint base = rowb + b * BLOCK_BYTES;
            ivec4 sumi = ivec4(0);
            if (live) {
                uint cw[4];
                load_quarter(base, c, cw);
                [[unroll]] for (uint tt = 0u; tt < 4u; tt++) {
                    if (tt < p.t) {
                        sumi[tt] = quarter_dot(cw, c, (tt * NB + b) * 64u);
                    }
                }
            }
            // The block's sum in each of its four lanes (exact).
            sumi += subgroupShuffleXor(sumi, 1u);
            sumi += subgroupShuffleXor(sumi, 2u);
            float d = 0.0;
            if (live) {
                uint doff = base + D_AT;
                d = f16_to_f32((w[doff >> 2u] >> ((doff & 2u) * 8u)) & 0xffffu);
            }
            // In block order, as the generic kernel.
            [[unroll]] for (uint tt = 0u; tt < 4u; tt++) {
                if (tt < p.t) {
                    precise float prod = 0.0;
                    if (live) {
                        precise float dd = s[tt * NB + b] * d;
                        prod = float(sumi[tt]) * dd;
                    }
                    for (uint j = 0u; j < gl_SubgroupSize && q0 + j < NQ; j += 4u) {
                        precise float pj = subgroupShuffle(prod, j);
                        sumf[tt] = sumf[tt] + pj;
                    }
                }
            }
        }
        if (subgroupElect()) {
            for (uint tt = 0u; tt < p.t; tt++) {
                y[p.y_off + tt * p.n + p.row0 + row] = sumf[tt];
            }
        }
    }
}
