#version 450
// matmul_i2s_coopmat: the I2_S prompt GEMM on cooperative matrices
// (VK_KHR_cooperative_matrix: int8 x int8 -> int32, subgroup scope; tensor
// or matrix cores where the device has them). Same bindings, push
// constants and results as matmul_i2s_tiled, whose integer sums it
// reproduces exactly.
//
// A workgroup computes BM weight rows x BN tokens (64 or 128 each), each
// of its (BM/32) x (BN/32) subgroups a 32 x 32 part in TM x TN matrices.
// The K loop steps one I2_S block (128 weights) at a time: the rows' codes (0..2, one
// byte each, in weight order) and the tokens' int8 activations are staged
// in shared memory, 144 bytes per row or token; A is the weight tile (row
// major), B the activations (column major: one column per token). The
// int32 sums go through shared memory to the common epilogue.
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_explicit_arithmetic_types_int8 : require
#extension GL_EXT_shader_explicit_arithmetic_types_int32 : require
#include "matmul_i2s_io.glsl"

layout(local_size_x_id = 0) in;             // (BM/32) x (BN/32) x the subgroup size
layout(constant_id = 1) const uint TM = 16; // cooperative matrix rows (weights)
layout(constant_id = 2) const uint TN = 16; // columns (tokens)
layout(constant_id = 3) const uint TK = 32; // depth
layout(constant_id = 4) const uint BM = 64; // weight rows of a workgroup
layout(constant_id = 5) const uint BN = 64; // tokens of a workgroup

// The weights and activations again, as 16-byte words.
layout(set = 0, binding = 0) readonly buffer Wt4 { uvec4 w4[]; };
layout(set = 0, binding = 1) readonly buffer Q4 { uvec4 q4[]; };

const uint SS = 36u; // words per staged row or token: 128 codes and 16 bytes of padding
const uint MT = 32u / TM, NT = 32u / TN;
shared uint smem[(BM + BN) * SS]; // A rows, then B tokens; afterwards C of 32 tokens as [token][row]

void main() {
    uint tid = gl_LocalInvocationID.x, nthr = gl_WorkGroupSize.x;
    uint rbase = gl_WorkGroupID.x * BM, tbase = gl_WorkGroupID.y * BN;
    uint kw = p.k / 16u, qw = p.k / 4u;
    // The part of this subgroup: rows sr.., tokens st...
    const uint SGR = BM / 32u; // subgroups along the rows
    uint sr = (gl_SubgroupID % SGR) * 32u, st = (gl_SubgroupID / SGR) * 32u;

    coopmat<int32_t, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator> acc[MT * NT];
    [[unroll]] for (uint i = 0u; i < MT * NT; i++) {
        acc[i] = coopmat<int32_t, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator>(0);
    }
    for (uint blk = 0u; blk < p.k / 128u; blk++) {
        // Weights, 16 bytes per load: byte b of a row's block holds the
        // codes of weights 32g+b at bits 6-2g, so word j unpacks into
        // words 8g+j.
        for (uint u = tid; u < BM * 2u; u += nthr) {
            uint m = u / 2u, h = u % 2u;
            uint row = rbase + m;
            uvec4 wv = row < p.rows ? w4[(row * kw + blk * 8u) / 4u + h] : uvec4(0u);
            [[unroll]] for (uint c = 0u; c < 4u; c++) {
                [[unroll]] for (uint g = 0u; g < 4u; g++) {
                    smem[m * SS + 8u * g + 4u * h + c] = (wv[c] >> (6u - 2u * g)) & 0x03030303u;
                }
            }
        }
        // Activations, 16 bytes per load (the codes start 16-byte aligned).
        for (uint u = tid; u < BN * 8u; u += nthr) {
            uint tk = u / 8u, h = u % 8u;
            uint tok = tbase + tk;
            uvec4 xv = tok < p.t ? q4[(p.q_off + tok * qw + blk * 32u) / 4u + h] : uvec4(0u);
            [[unroll]] for (uint c = 0u; c < 4u; c++) {
                smem[(BM + tk) * SS + 4u * h + c] = xv[c];
            }
        }
        barrier();
        // (Unrolling this loop is left to the driver: unrolled here, the
        // emulated matrices take lavapipe's compiler a minute.)
        for (uint kk = 0u; kk < 128u; kk += TK) {
            coopmat<int8_t, gl_ScopeSubgroup, TM, TK, gl_MatrixUseA> a[MT];
            [[unroll]] for (uint mi = 0u; mi < MT; mi++) {
                coopMatLoad(a[mi], smem, (sr + mi * TM) * SS + kk / 4u, SS, gl_CooperativeMatrixLayoutRowMajor);
            }
            [[unroll]] for (uint ni = 0u; ni < NT; ni++) {
                coopmat<int8_t, gl_ScopeSubgroup, TK, TN, gl_MatrixUseB> b;
                coopMatLoad(b, smem, (BM + st + ni * TN) * SS + kk / 4u, SS, gl_CooperativeMatrixLayoutColumnMajor);
                [[unroll]] for (uint mi = 0u; mi < MT; mi++) {
                    acc[mi * NT + ni] = coopMatMulAdd(a[mi], b, acc[mi * NT + ni]);
                }
            }
        }
        barrier();
    }
    // The sums go out 32 tokens at a time (BM x 32 int32 fit where the
    // staged tiles were): the subgroups of those tokens store theirs, then
    // every invocation takes some through the epilogue. A device that ran
    // the workgroup in another number of subgroups left parts out: that
    // is made loud rather than wrong.
    bool whole = gl_NumSubgroups == SGR * (BN / 32u);
    for (uint t0 = 0u; t0 < BN; t0 += 32u) {
        if (st == t0) {
            [[unroll]] for (uint mi = 0u; mi < MT; mi++) {
                [[unroll]] for (uint ni = 0u; ni < NT; ni++) {
                    coopMatStore(acc[mi * NT + ni], smem, ni * TN * BM + sr + mi * TM, BM, gl_CooperativeMatrixLayoutColumnMajor);
                }
            }
        }
        barrier();
        for (uint u = tid; u < BM * 32u; u += nthr) {
            uint m = u % BM, tk = u / BM;
            uint row = rbase + m, tok = tbase + t0 + tk;
            if (row < p.rows && tok < p.t) {
                i2s_store(tok, row, whole ? int(smem[tk * BM + m]) : 0x7fffffff, uintBitsToFloat(q[2u * tok]), int(q[2u * tok + 1u]));
            }
        }
        barrier();
    }
}
