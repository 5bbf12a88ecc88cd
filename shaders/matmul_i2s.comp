#version 450
// matmul_i2s: y[t][n] = (sum_k T[n][k] * q[t][k]) / s[t] * wscale for an I2_S
// weight (2-bit codes, 0 -> -1, 1 -> 0, 2 -> +1, 3 -> 0) and int8
// activations from quantize_i8. One workgroup per weight row n; the integer
// sums are exact, the epilogue is the float32 (sum / s) * wscale of the CPU.
// The layout is described in include/matmul_i2s_body.glsl.
#include "numerics.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer Wt { uint w[]; };
layout(set = 0, binding = 1) readonly buffer Q { uint q[]; };
layout(set = 0, binding = 2) readonly buffer S { float s[]; };
layout(set = 0, binding = 3) buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint k;       // row length (multiple of 128)
    uint t;       // tokens
    uint n;       // output rows in total (dst row stride)
    uint row0;    // first output row of this dispatch
    uint y_off;   // element offset of dst
    uint w_off;   // word offset of this dispatch's first row in the bound weights
    float wscale; // per-tensor weight scale
} p;

shared ivec4 part[WG];

#include "matmul_i2s_body.glsl"

void main() {
    uint r = gl_WorkGroupID.x;     // row within this dispatch's weight chunk
    uint tid = gl_LocalInvocationID.x;
    uint kw = p.k / 16u;           // weight words per row
    uint qw = p.k / 4u;            // q words per token
    uint wb = p.w_off + r * kw;
    for (uint t0 = 0u; t0 < p.t; t0 += 4u) {
        ivec4 acc = ivec4(0);
        for (uint i = tid; i < kw; i += WG) {
            acc += i2s_word_dots(w[wb + i], i, t0, p.t, qw);
        }
        part[tid] = acc;
        barrier();
        for (uint st = WG / 2u; st > 0u; st >>= 1u) {
            if (tid < st) {
                part[tid] += part[tid + st];
            }
            barrier();
        }
        if (tid < 4u && t0 + tid < p.t) {
            uint tt = t0 + tid;
            precise float v = div_rn(float(part[0][tid]), s[tt]) * p.wscale;
            y[p.y_off + tt * p.n + p.row0 + r] = v;
        }
        barrier();
    }
}
