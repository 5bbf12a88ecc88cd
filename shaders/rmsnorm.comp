#version 450
// rmsnorm: y = x * (1/sqrt(mean(x^2) + eps)) * w, one workgroup per row.
// The sum of squares is accumulated in two-float arithmetic so the mean
// rounds as the CPU reference's float64 sum does.
#include "numerics.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer W { float w[]; };
layout(set = 0, binding = 2) buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint k;     // row length
    uint x_off; // element offsets
    uint y_off;
    float eps;
} p;

shared vec2 part[WG];

void main() {
    uint row = gl_WorkGroupID.x;
    uint tid = gl_LocalInvocationID.x;
    uint xb = p.x_off + row * p.k;
    uint yb = p.y_off + row * p.k;
    vec2 acc = vec2(0.0);
    for (uint i = tid; i < p.k; i += WG) {
        acc = df_add(acc, df_sq(x[xb + i]));
    }
    part[tid] = acc;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            part[tid] = df_add(part[tid], part[tid + s]);
        }
        barrier();
    }
    vec2 sum = part[0];
    // mean = float32(sum / k): divide the two-float sum, correct with the residual.
    float kf = float(p.k);
    float m0 = div_rn(sum.x, kf);
    precise float res = residual(sum.x, m0, kf) + sum.y;
    precise float mean = m0 + res / kf;
    precise float me = mean + p.eps;
    float scale = div_rn(1.0, sqrt_rn(me));
    for (uint i = tid; i < p.k; i += WG) {
        precise float v = x[xb + i] * scale;
        y[yb + i] = v * w[i];
    }
}
