#version 450
// rmsnorm: y = x * (1/sqrt(mean(x^2) + eps)) * w, one workgroup per row
// (see include/rmsnorm_row.glsl). With QUANT it also writes y's int8
// quantization for the ternary matmul that follows (include/quant.glsl);
// without NORM it only quantizes x.
#include "numerics.glsl"

layout(local_size_x_id = 0) in;
const uint WGS = gl_WorkGroupSize.x;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer W { float w[]; };
layout(set = 0, binding = 2) buffer Y { float y[]; };
layout(set = 0, binding = 3) writeonly buffer Q8 { uint q8[]; };
layout(set = 0, binding = 4) writeonly buffer QM { uint qm[]; };
layout(push_constant) uniform P {
    uint k;     // row length (a multiple of 4 with QUANT)
    uint x_off; // element offsets
    uint y_off;
    float eps;
    uint flags; // 1: NORM, 2: QUANT
} p;

shared vec2 part[WGS];
shared float red_f[WGS];
shared int red_i[WGS];

#include "quant.glsl"

uint xb, yb;
#define XV(i) x[xb + (i)]
#define YV(i) y[yb + (i)]
#include "rmsnorm_row.glsl"

void main() {
    uint row = gl_WorkGroupID.x;
    xb = p.x_off + row * p.k;
    yb = p.y_off + row * p.k;
    rmsnorm_row(p.k, p.eps, (p.flags & 1u) != 0u, (p.flags & 2u) != 0u, row);
}
