#version 450
// add: y = a + b elementwise (y may alias a or b).
#include "numerics.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) readonly buffer B { float b[]; };
layout(set = 0, binding = 2) buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint n;
    uint a_off;
    uint b_off;
    uint y_off;
} p;

void main() {
    uint stride = gl_NumWorkGroups.x * WG;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
        precise float v = a[p.a_off + i] + b[p.b_off + i];
        y[p.y_off + i] = v;
    }
}
