#version 450
// round_f16: y = x rounded to the nearest F16 value (ties to even), stored as
// float32, elementwise; the input of an F16-weight matmul where the model's
// numerics round it (the engine decides, by architecture).
#include "numerics.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint n;
    uint x_off;
    uint y_off;
} p;

void main() {
    uint stride = gl_NumWorkGroups.x * WG;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
        y[p.y_off + i] = round_f16(x[p.x_off + i]);
    }
}
