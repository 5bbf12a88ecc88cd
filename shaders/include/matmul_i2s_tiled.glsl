// Body of matmul_i2s_tiled / matmul_i2s_tiled_dot: I2_S weights times the
// int8 activations of many tokens (prompt processing), tiled in shared
// memory so that each weight byte is read once per tile of BN tokens.
//
// A workgroup computes BM rows x BN tokens; each invocation a 4 x 4 block.
// The K loop steps one I2_S block (128 weights, 32 bytes per row) at a
// time: the rows' bytes are unpacked into 32 code words per row (word 8g+j
// holds the codes of weights 32g+4j..32g+4j+3 of the block, matching the
// activation word 8g+j), stored k-major so four rows are one 16-byte read.
// Results are exact as in matvec_i2s (see matmul_i2s_io.glsl).
#include "matmul_i2s_io.glsl"
#include "tile_i8.glsl"

void main() {
    uint tid = gl_LocalInvocationID.x;
    uint tx = tid % 16u, ty = tid / 16u;
    uint rbase = gl_WorkGroupID.x * BM;
    uint tbase = gl_WorkGroupID.y * BN;
    uint kw = p.k / 16u;  // weight words per row
    uint qw = p.k / 4u;   // activation words per token
    ivec4 acc[4];
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        acc[i] = ivec4(0);
    }
    ivec4 qsum = ivec4(0); // not summed: the codes' sums come with q
    for (uint blk = 0u; blk < p.k / 128u; blk++) {
        // Weights: invocations 0..127 take word j of rows 4m..4m+3.
        if (tid < 128u) {
            uint m = tid / 8u, j = tid % 8u;
            uvec4 wv;
            [[unroll]] for (uint i = 0u; i < 4u; i++) {
                uint row = rbase + 4u * m + i;
                wv[i] = row < p.rows ? w[row * kw + blk * 8u + j] : 0x55555555u;
            }
            [[unroll]] for (uint g = 0u; g < 4u; g++) {
                wsh[(8u * g + j) * WS + m] = (wv >> (6u - 2u * g)) & 0x03030303u;
            }
        }
        tile_stage_x(tid, tbase, p.q_off + blk * 32u, qw);
        barrier();
        tile_dot(ty, tx, acc, qsum);
        barrier();
    }
    [[unroll]] for (uint j = 0u; j < 4u; j++) {
        uint tok = tbase + tx * 4u + j;
        if (tok >= p.t) {
            continue;
        }
        float sx = uintBitsToFloat(q[2u * tok]);
        int sum = int(q[2u * tok + 1u]);
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            uint row = rbase + ty * 4u + i;
            if (row < p.rows) {
                i2s_store(tok, row, acc[i][j], sx, sum);
            }
        }
    }
}
