#version 450
// scale: y = x * s elementwise.
#include "numerics.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint n;
    uint x_off;
    uint y_off;
    float s;
} p;

void main() {
    uint stride = gl_NumWorkGroups.x * WG;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
        precise float v = x[p.x_off + i] * p.s;
        y[p.y_off + i] = v;
    }
}
