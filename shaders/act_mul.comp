#version 450
// act_mul: y = act(gate) * up; act 0 is relu(g)^2, 1 is silu(g) = g/(1+e^-g).
#include "numerics.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer G { float g[]; };
layout(set = 0, binding = 1) readonly buffer U { float u[]; };
layout(set = 0, binding = 2) buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint n;
    uint g_off;
    uint u_off;
    uint y_off;
    uint act;
} p;

void main() {
    uint stride = gl_NumWorkGroups.x * WG;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
        float v = g[p.g_off + i];
        precise float o;
        if (p.act == 0u) {
            float r = max(v, 0.0);
            o = r * r * u[p.u_off + i];
        } else {
            o = div_rn(v, 1.0 + exp(-v)) * u[p.u_off + i];
        }
        y[p.y_off + i] = o;
    }
}
