// Body of attn_combine / attn_combine_sg: merges attn_split's chunks of
// each head of one query row (one workgroup per row): with M = max_c m_c
// and L = sum_c l_c exp(m_c - M), y = sum_c o_c exp(m_c - M) / L. With NORM
// it then applies the RMSNorm that follows attention (attn_sub_norm) to the
// row in place, and with QUANT writes its int8 quantization for the output
// projection (see rmsnorm_row.glsl).
#include "numerics.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HD = 128u;
layout(constant_id = 2) const uint MAXE = 4u; // elements of a row per invocation (the row's length over WGS, rounded up)
const uint WGS = gl_WorkGroupSize.x;
const uint MAXH = 256u;   // query heads
const uint MAXF = 2048u;  // heads x chunks whose factors fit in shared memory

layout(set = 0, binding = 0) readonly buffer PART { float partials[]; };
layout(set = 0, binding = 1) readonly buffer POS { int pos[]; };
layout(set = 0, binding = 2) coherent buffer Y { float y[]; };
layout(set = 0, binding = 3) readonly buffer W { float w[]; };
layout(set = 0, binding = 4) writeonly buffer Q { uint q[]; };
layout(push_constant) uniform P {
    uint n_head;
    uint nchunks;
    uint ch;      // positions per chunk
    uint pos_off;
    uint y_off;
    float eps;
    uint flags;   // 1: NORM, 2: QUANT
    uint q_off;   // word offset of the codes in Q
} p;

shared float hmax[MAXH];
shared float hsum[MAXH];
shared float fac[MAXF];

uint yb, qb, row;
#define XV(i) y[yb + (i)]
#define YV(i) y[yb + (i)]
#define WV(i) w[(i)]
#define Q8(i) q[qb + (i)]
#define QM(i) q[2u * row + (i)]
#include "rmsnorm_row.glsl"

void main() {
    row = gl_WorkGroupID.x;
    uint tid = gl_LocalInvocationID.x;
    uint n = uint(pos[p.pos_off + row]) + 1u;
    uint nc = (n + p.ch - 1u) / p.ch;
    uint k = p.n_head * HD;
    yb = p.y_off + row * k;
    qb = p.q_off + row * (k / 4u);
    uint stride = p.nchunks * (HD + 2u);
    uint rbase = row * p.n_head * stride;
    for (uint h = tid; h < p.n_head; h += WGS) {
        uint base = rbase + h * stride;
        float m = uintBitsToFloat(0xff800000u);
        for (uint c = 0u; c < nc; c++) {
            m = max(m, partials[base + c * (HD + 2u) + HD]);
        }
        precise float l = 0.0;
        for (uint c = 0u; c < nc; c++) {
            uint b = base + c * (HD + 2u);
            precise float t = partials[b + HD + 1u] * exp(partials[b + HD] - m);
            l = l + t;
        }
        hmax[h] = m;
        hsum[h] = l;
    }
    barrier();
    bool table = p.n_head * nc <= MAXF;
    if (table) {
        for (uint i = tid; i < p.n_head * nc; i += WGS) {
            uint h = i / nc, c = i % nc;
            fac[i] = exp(partials[rbase + h * stride + c * (HD + 2u) + HD] - hmax[h]);
        }
        barrier();
    }
    // Each invocation's elements, with the loads of one chunk issued together.
    if (table && k <= MAXE * WGS) {
        float o[MAXE];
        [[unroll]] for (uint j = 0u; j < MAXE; j++) {
            o[j] = 0.0;
        }
        for (uint c = 0u; c < nc; c++) {
            float pv[MAXE];
            [[unroll]] for (uint j = 0u; j < MAXE; j++) {
                uint e = min(tid + j * WGS, k - 1u);
                pv[j] = partials[rbase + (e / HD) * stride + c * (HD + 2u) + e % HD];
            }
            [[unroll]] for (uint j = 0u; j < MAXE; j++) {
                uint e = min(tid + j * WGS, k - 1u);
                precise float t = pv[j] * fac[(e / HD) * nc + c];
                o[j] = o[j] + t;
            }
        }
        [[unroll]] for (uint j = 0u; j < MAXE; j++) {
            uint e = tid + j * WGS;
            if (e < k) {
                y[yb + e] = o[j] / hsum[e / HD];
            }
        }
    } else {
        for (uint e = tid; e < k; e += WGS) {
            uint h = e / HD, d = e % HD;
            precise float o = 0.0;
            for (uint c = 0u; c < nc; c++) {
                uint b = rbase + h * stride + c * (HD + 2u);
                precise float t = partials[b + d] * (table ? fac[h * nc + c] : exp(partials[b + HD] - hmax[h]));
                o = o + t;
            }
            y[yb + e] = o / hsum[h];
        }
    }
    if (p.flags == 0u) {
        return;
    }
    memoryBarrierBuffer();
    barrier();
    rmsnorm_row(k, p.eps, (p.flags & 1u) != 0u, (p.flags & 2u) != 0u);
}
