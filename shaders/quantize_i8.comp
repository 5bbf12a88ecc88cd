#version 450
// quantize_i8: per-row int8 activation quantization of the I2_S matmul.
// m = max(max|x|, 1e-5), s = 127/m, q = clamp(roundEven(x*s), -128, 127).
// q is packed four per uint (element 4i+j in byte j of word i); s goes to
// scales[row]. One workgroup per row; k is a multiple of 4.
#include "numerics.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Q { uint q[]; };
layout(set = 0, binding = 2) writeonly buffer S { float scales[]; };
layout(push_constant) uniform P {
    uint k;
    uint x_off;
} p;

shared float part[WG];

void main() {
    uint row = gl_WorkGroupID.x;
    uint tid = gl_LocalInvocationID.x;
    uint xb = p.x_off + row * p.k;
    float m = 0.0;
    for (uint i = tid; i < p.k; i += WG) {
        m = max(m, abs(x[xb + i]));
    }
    part[tid] = m;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            part[tid] = max(part[tid], part[tid + s]);
        }
        barrier();
    }
    m = max(part[0], 1e-5);
    float sc = div_rn(127.0, m);
    if (tid == 0u) {
        scales[row] = sc;
    }
    uint kw = p.k / 4u;
    for (uint i = tid; i < kw; i += WG) {
        uint word = 0u;
        [[unroll]] for (uint j = 0u; j < 4u; j++) {
            precise float v = x[xb + 4u * i + j] * sc;
            int qi = int(clamp(roundEven(v), -128.0, 127.0));
            word |= (uint(qi) & 0xffu) << (8u * j);
        }
        q[row * kw + i] = word;
    }
}
