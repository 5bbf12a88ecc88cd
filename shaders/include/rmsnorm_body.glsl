// Body of rmsnorm / rmsnorm_sg: y = x * (1/sqrt(mean(x^2) + eps)) * w, one
// workgroup per row (see rmsnorm_row.glsl). With QUANT it also writes y's
// int8 quantization for the ternary matmul that follows into Q (per row,
// scale and code sum at words 2row and 2row+1, the codes at q_off +
// row*k/4); without NORM it only quantizes x.
#include "numerics.glsl"

layout(local_size_x_id = 0) in;
const uint WGS = gl_WorkGroupSize.x;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer W { float w[]; };
layout(set = 0, binding = 2) buffer Y { float y[]; };
layout(set = 0, binding = 3) writeonly buffer Q { uint q[]; };
layout(push_constant) uniform P {
    uint k;     // row length (a multiple of 4 with QUANT)
    uint x_off; // element offsets
    uint y_off;
    float eps;
    uint flags; // 1: NORM, 2: QUANT
    uint q_off; // word offset of the codes in Q
} p;

uint xb, yb, qb, row;
#define XV(i) x[xb + (i)]
#define YV(i) y[yb + (i)]
#define WV(i) w[(i)]
#define Q8(i) q[qb + (i)]
#define QM(i) q[2u * row + (i)]
#include "rmsnorm_row.glsl"

void main() {
    row = gl_WorkGroupID.x;
    xb = p.x_off + row * p.k;
    yb = p.y_off + row * p.k;
    qb = p.q_off + row * (p.k / 4u);
    rmsnorm_row(p.k, p.eps, (p.flags & 1u) != 0u, (p.flags & 2u) != 0u);
}
