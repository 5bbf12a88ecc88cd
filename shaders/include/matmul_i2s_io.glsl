// Bindings, push constants and epilogue of the I2_S prompt kernels
// (matmul_i2s_tiled, matmul_i2s_coopmat): I2_S weights times the int8
// activations of many tokens. The integer sum of a row and token is
// sum(code * q) with codes 0..2; the result is the CPU reference's float
// epilogue of (sum - sum(q)), optionally added to a residual.
#ifndef MATMUL_I2S_IO_GLSL
#define MATMUL_I2S_IO_GLSL
#include "numerics.glsl"

layout(set = 0, binding = 0) readonly buffer Wt { uint w[]; };
layout(set = 0, binding = 1) readonly buffer Q { uint q[]; }; // per token: scale, code sum at 2t, 2t+1; codes from q_off
layout(set = 0, binding = 2) buffer Y { float y[]; };
layout(set = 0, binding = 3) readonly buffer R { float r[]; };
layout(set = 0, binding = 4) buffer RO { float ro[]; };
layout(push_constant) uniform P {
    uint k;      // row length, a multiple of 128
    uint t;      // tokens
    uint n;      // output rows in total (dst row stride)
    uint rows;   // rows of this dispatch (a weight chunk)
    uint row0;   // output row of the chunk's first row
    uint y_off;
    float ws;    // weight scale
    uint r_off, ro_off;
    uint flags;  // 4: RESID
    uint q_off;  // word offset of the codes in Q
} p;

// i2s_store writes the result of weight row `row` (of this dispatch's
// chunk) and token tok from its code sum acc, given the token's
// activation scale sx and code sum (q[2 tok], q[2 tok + 1]); the caller
// checks the bounds.
void i2s_store(uint tok, uint row, int acc, float sx, int sum) {
    precise float v = div_rn(float(acc - sum), sx) * p.ws;
    uint o = tok * p.n + p.row0 + row;
    y[p.y_off + o] = v;
    if ((p.flags & 4u) != 0u) {
        precise float s = r[p.r_off + o] + v;
        ro[p.ro_off + o] = s;
    }
}
#endif
