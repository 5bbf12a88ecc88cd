// Body of attn_combine: merges attn_split's chunks of one head of one query row
// (one workgroup per head and row): with M = max_c m_c and
// L = sum_c l_c exp(m_c - M) (summed in chunk order),
// y = sum_c o_c exp(m_c - M) / L. Invocation (d, cg) sums dimension d over
// every CG-th chunk from cg, several loads in flight; the CG sums are then
// added in order. The CHAIN variant waits for the dispatch before it
// first, and counts itself done at the end (see chain.glsl).
#include "numerics.glsl"
#include "chain.glsl"

layout(local_size_x_id = 0) in;                // HD * CG
layout(constant_id = 1) const uint HD = 128u;  // head dimension
const uint WGS = gl_WorkGroupSize.x;
const uint CG = WGS / HD;                      // chunk groups
const uint MAXF = 2048u;                       // chunks whose factors fit in shared memory
const uint UN = 4u;                            // loads in flight per invocation

layout(set = 0, binding = 0) ACT readonly buffer PART { float part[]; }; // [row][head][chunk][HD + 2]
layout(set = 0, binding = 1) ACT readonly buffer POS { int pos[]; };
layout(set = 0, binding = 2) ACT writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint n_head;
    uint nchunks;
    uint ch;      // positions per chunk
    uint pos_off;
    uint y_off;
#ifdef CHAIN
    uint chain_wait, chain_need, chain_sig;
#endif
} p;
#define CHAIN_BINDING 3
#include "chain_sync.glsl"

shared float fac[MAXF]; // exp(m_c - M)
shared float ls[MAXF];  // l_c
shared float red[WGS];
shared float big_l;

void main() {
    probe(0u);
    uint h = gl_WorkGroupID.x;
    uint row = gl_WorkGroupID.y;
    uint tid = gl_LocalInvocationID.x;
    chain_wait();
    probe(2u); // no first phase of its own
    uint n = uint(pos[p.pos_off + row]) + 1u;
    uint nc = (n + p.ch - 1u) / p.ch;
    uint base = (row * p.n_head + h) * p.nchunks * (HD + 2u);
    // M: the chunk maxima, reduced over the workgroup.
    float m = uintBitsToFloat(0xff800000u);
    for (uint c = tid; c < nc; c += WGS) {
        m = max(m, part[base + c * (HD + 2u) + HD]);
    }
    red[tid] = m;
    barrier();
    uint p2 = 1u;
    while (p2 < WGS) {
        p2 <<= 1u;
    }
    for (uint s = p2 / 2u; s > 0u; s >>= 1u) {
        if (tid < s && tid + s < WGS) {
            red[tid] = max(red[tid], red[tid + s]);
        }
        barrier();
    }
    float bm = red[0];
    bool table = nc <= MAXF;
    if (table) {
        for (uint c = tid; c < nc; c += WGS) {
            uint b = base + c * (HD + 2u);
            fac[c] = exp(part[b + HD] - bm);
            ls[c] = part[b + HD + 1u];
        }
    }
    barrier();
    if (tid == 0u) {
        precise float l = 0.0;
        for (uint c = 0u; c < nc; c++) {
            uint b = base + c * (HD + 2u);
            precise float t = table ? ls[c] * fac[c] : part[b + HD + 1u] * exp(part[b + HD] - bm);
            l = l + t;
        }
        big_l = l;
    }
    uint d = tid % HD, cg = tid / HD;
    precise float o = 0.0;
    if (cg < CG) {
        for (uint c0 = cg; c0 < nc; c0 += UN * CG) {
            float pv[UN];
            [[unroll]] for (uint u = 0u; u < UN; u++) {
                uint c = min(c0 + u * CG, nc - 1u);
                pv[u] = part[base + c * (HD + 2u) + d];
            }
            [[unroll]] for (uint u = 0u; u < UN; u++) {
                uint c = c0 + u * CG;
                if (c < nc) {
                    float f = table ? fac[c] : exp(part[base + c * (HD + 2u) + HD] - bm);
                    precise float t = pv[u] * f;
                    o = o + t;
                }
            }
        }
    }
    barrier();
    red[tid] = o;
    barrier();
    if (cg == 0u) {
        precise float s = red[d];
        for (uint k = 1u; k < CG; k++) {
            s = s + red[k * HD + d];
        }
        y[p.y_off + (row * p.n_head + h) * HD + d] = s / big_l;
    }
    chain_signal();
}
