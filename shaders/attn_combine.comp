#version 450
// attn_combine: merges attn_split's chunks of each head of one query row
// (one workgroup per row): M = max_c m_c, L = sum_c l_c exp(m_c - M),
// y = sum_c o_c exp(m_c - M) / L. With NORM it then applies the RMSNorm
// that follows attention (attn_sub_norm) to the row in place, and with
// QUANT writes its int8 quantization for the output projection (see
// include/rmsnorm_row.glsl).
#include "numerics.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HD = 128u;
const uint WGS = gl_WorkGroupSize.x;
const uint MAXH = 256u; // query heads

layout(set = 0, binding = 0) readonly buffer PART { float partials[]; };
layout(set = 0, binding = 1) readonly buffer POS { int pos[]; };
layout(set = 0, binding = 2) coherent buffer Y { float y[]; };
layout(set = 0, binding = 3) readonly buffer W { float w[]; };
layout(set = 0, binding = 4) writeonly buffer Q8 { uint q8[]; };
layout(set = 0, binding = 5) writeonly buffer QM { uint qm[]; };
layout(push_constant) uniform P {
    uint n_head;
    uint nchunks;
    uint ch;      // positions per chunk
    uint pos_off;
    uint y_off;
    float eps;
    uint flags;   // 1: NORM, 2: QUANT
} p;

shared vec2 part[WGS];
shared float red_f[WGS];
shared int red_i[WGS];
shared float hmax[MAXH];
shared float hsum[MAXH];

#include "quant.glsl"

uint yb;
#define XV(i) y[yb + (i)]
#define YV(i) y[yb + (i)]
#include "rmsnorm_row.glsl"

void main() {
    uint row = gl_WorkGroupID.x;
    uint tid = gl_LocalInvocationID.x;
    uint n = uint(pos[p.pos_off + row]) + 1u;
    uint nc = (n + p.ch - 1u) / p.ch;
    uint k = p.n_head * HD;
    yb = p.y_off + row * k;
    for (uint h = tid; h < p.n_head; h += WGS) {
        uint base = (row * p.n_head + h) * p.nchunks * (HD + 2u);
        float m = uintBitsToFloat(0xff800000u);
        for (uint c = 0u; c < nc; c++) {
            m = max(m, partials[base + c * (HD + 2u) + HD]);
        }
        float l = 0.0;
        for (uint c = 0u; c < nc; c++) {
            uint b = base + c * (HD + 2u);
            precise float t = partials[b + HD + 1u] * exp(partials[b + HD] - m);
            l = l + t;
        }
        hmax[h] = m;
        hsum[h] = l;
    }
    barrier();
    for (uint e = tid; e < k; e += WGS) {
        uint h = e / HD, d = e % HD;
        uint base = (row * p.n_head + h) * p.nchunks * (HD + 2u);
        float m = hmax[h];
        precise float o = 0.0;
        for (uint c = 0u; c < nc; c++) {
            uint b = base + c * (HD + 2u);
            precise float t = partials[b + d] * exp(partials[b + HD] - m);
            o = o + t;
        }
        y[yb + e] = o / hsum[h];
    }
    if (p.flags == 0u) {
        return;
    }
    memoryBarrierBuffer();
    barrier();
    rmsnorm_row(k, p.eps, (p.flags & 1u) != 0u, (p.flags & 2u) != 0u, row);
}
