#version 450
// rope: rotary position embedding per head. cs holds cos and sin for each
// row and pair, computed by the host in float64 and rounded to float32 (the
// CPU reference's values), so the rotation itself is bit-exact with it.
// NeoX pairs (i, i+dims/2); normal mode pairs (2i, 2i+1). dst may be x.
#include "numerics.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer CS { float cs[]; }; // [t][dims/2][2]
layout(set = 0, binding = 2) buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint k;        // row length (heads * head_dim)
    uint head_dim;
    uint dims;     // rotated dimensions per head
    uint neox;
    uint t;        // rows
    uint x_off;
    uint y_off;
} p;

void main() {
    uint half_ = p.dims / 2u;
    uint heads = p.k / p.head_dim;
    uint total = p.t * heads * half_;
    uint stride = gl_NumWorkGroups.x * WG;
    for (uint idx = gl_GlobalInvocationID.x; idx < total; idx += stride) {
        uint j = idx % half_;
        uint h = (idx / half_) % heads;
        uint row = idx / (half_ * heads);
        uint a = p.neox != 0u ? j : 2u * j;
        uint b = p.neox != 0u ? j + half_ : 2u * j + 1u;
        uint base = row * p.k + h * p.head_dim;
        float c = cs[(row * half_ + j) * 2u];
        float s = cs[(row * half_ + j) * 2u + 1u];
        float x0 = x[p.x_off + base + a];
        float x1 = x[p.x_off + base + b];
        precise float o0 = x0 * c - x1 * s;
        precise float o1 = x0 * s + x1 * c;
        // Pass-through dimensions beyond dims.
        for (uint e = p.dims + j; e < p.head_dim; e += half_) {
            y[p.y_off + base + e] = x[p.x_off + base + e];
        }
        y[p.y_off + base + a] = o0;
        y[p.y_off + base + b] = o1;
    }
}
