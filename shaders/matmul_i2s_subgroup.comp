#version 450
// matmul_i2s_subgroup: matmul_i2s for devices with subgroup arithmetic. A
// workgroup covers ROWS weight rows; each subgroup takes whole rows and sums
// with subgroupAdd, so there is no shared memory and no barrier. Results
// are identical to matmul_i2s (exact integer sums, the same epilogue).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
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
    uint rows;    // rows in this dispatch
} p;

#include "matmul_i2s_body.glsl"

layout(constant_id = 0) const uint ROWS = 8u; // weight rows per workgroup (the dispatch's grid divides by it)

void main() {
    uint kw = p.k / 16u;
    uint qw = p.k / 4u;
    for (uint rr = gl_SubgroupID; rr < ROWS; rr += gl_NumSubgroups) {
        uint r = gl_WorkGroupID.x * ROWS + rr;
        if (r >= p.rows) {
            break;
        }
        uint wb = p.w_off + r * kw;
        for (uint t0 = 0u; t0 < p.t; t0 += 4u) {
            ivec4 acc = ivec4(0);
            for (uint i = gl_SubgroupInvocationID; i < kw; i += gl_SubgroupSize) {
                acc += i2s_word_dots(w[wb + i], i, t0, p.t, qw);
            }
            acc = subgroupAdd(acc);
            if (subgroupElect()) {
                for (uint tt = 0u; tt < 4u && t0 + tt < p.t; tt++) {
                    precise float v = div_rn(float(acc[tt]), s[t0 + tt]) * p.wscale;
                    y[p.y_off + (t0 + tt) * p.n + p.row0 + r] = v;
                }
            }
        }
    }
}
