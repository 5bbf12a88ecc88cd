#version 450
// store_kv: write rows of x into the KV cache at rows pos0.. . An F16 cache
// holds two halves per uint, rounded to nearest even; an F32 cache holds the
// float bits.
#include "numerics.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) buffer C { uint c[]; };
layout(push_constant) uniform P {
    uint k;     // row length (even)
    uint t;     // rows
    uint pos0;  // first cache row
    uint x_off;
    uint f16;   // 1: F16 cache, 0: F32
} p;

void main() {
    uint stride = gl_NumWorkGroups.x * WG;
    if (p.f16 != 0u) {
        uint total = p.t * p.k / 2u;
        for (uint i = gl_GlobalInvocationID.x; i < total; i += stride) {
            uint lo = f32_to_f16(x[p.x_off + 2u * i]);
            uint hi = f32_to_f16(x[p.x_off + 2u * i + 1u]);
            c[p.pos0 * p.k / 2u + i] = lo | (hi << 16u);
        }
    } else {
        uint total = p.t * p.k;
        for (uint i = gl_GlobalInvocationID.x; i < total; i += stride) {
            c[p.pos0 * p.k + i] = floatBitsToUint(x[p.x_off + i]);
        }
    }
}
