// The shared tiles and inner products of the tiled int8 GEMMs
// (matmul_i2s_tiled, matmul_tq_tiled). A workgroup of 256 invocations
// computes BM = 64 weight rows x BN = 64 tokens; invocation (ty, tx) a
// 4 x 4 block: rows 4ty.., tokens 4tx... A K step stages 32 code words per
// row in wsh and 32 activation words per token in xsh, k-major, so four
// rows (or tokens) are one 16-byte read. Include it after the activation
// buffer q[] and the push constants p (with the token count p.t).
#ifndef TILE_I8_GLSL
#define TILE_I8_GLSL
#include "dot4.glsl"

layout(local_size_x = 256) in;
const uint BM = 64u, BN = 64u;
const uint WS = BM / 4u + 1u; // padded strides of the shared tiles (uvec4)
const uint XS = BN / 4u + 1u;
shared uvec4 wsh[32 * WS]; // [k word][row / 4]: the codes of four rows
shared uvec4 xsh[32 * XS]; // [k word][token / 4]: the activations of four tokens

// tile_stage_x stages the step's activation words: word kq of token tok
// is q[qbase + tok * qw + kq], zero past the last token; two words of four
// tokens per invocation.
void tile_stage_x(uint tid, uint tbase, uint qbase, uint qw) {
    [[unroll]] for (uint h = 0u; h < 2u; h++) {
        uint u = tid + 256u * h;
        uint kq = u % 32u, tg = u / 32u;
        uvec4 xv;
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            uint tok = tbase + 4u * tg + i;
            xv[i] = tok < p.t ? q[qbase + tok * qw + kq] : 0u;
        }
        xsh[kq * XS + tg] = xv;
    }
}

// tile_dot adds the staged step's code products to acc (acc[i][j]: row
// 4ty+i, token 4tx+j) and, where TILE_QSUM is defined, each token's
// activation code sum to qsum.
void tile_dot(uint ty, uint tx, inout ivec4 acc[4], inout ivec4 qsum) {
    [[unroll]] for (uint kk = 0u; kk < 32u; kk++) {
        uvec4 a = wsh[kk * WS + ty];
        uvec4 x = xsh[kk * XS + tx];
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            acc[i] += ivec4(dot4(a[i], x.x), dot4(a[i], x.y), dot4(a[i], x.z), dot4(a[i], x.w));
        }
#ifdef TILE_QSUM
        qsum += ivec4(dot4(0x01010101u, x.x), dot4(0x01010101u, x.y), dot4(0x01010101u, x.z), dot4(0x01010101u, x.w));
#endif
    }
}
#endif
