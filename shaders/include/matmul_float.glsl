// Body of matmul_f32 / matmul_f16 / matmul_bf16 / matmul_q8_0 / matmul_q6_k
// (define one of W_F32, W_F16, W_BF16, W_Q8_0, W_Q6_K first): float weights
// dotted with float32 activations, float32 accumulation, one workgroup per
// weight row. Q8_0 and Q6_K rows are in the device layouts of
// quant_layout.glsl.
#include "numerics.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer Wt { uint w[]; };
#define QBUF w
#include "quant_layout.glsl"
layout(set = 0, binding = 1) readonly buffer X { float x[]; };
layout(set = 0, binding = 2) buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint k;
    uint t;
    uint n;     // total output rows (dst row stride)
    uint row0;  // first output row of this dispatch
    uint y_off;
    uint w_off; // byte offset of this dispatch's first row in the bound weights
    uint x_off;
#ifdef SUBGROUP
    uint rows;  // rows in this dispatch
#endif
} p;

// weight element e of the row starting at byte rb
float wval(uint rb, uint e) {
#if defined(W_F32)
    return uintBitsToFloat(w[(rb >> 2u) + e]);
#elif defined(W_F16)
    return HALF_AT(w, (rb >> 1u) + e);
#elif defined(W_BF16)
    uint hi = (w[((rb >> 1u) + e) >> 1u] >> ((((rb >> 1u) + e) & 1u) * 16u)) & 0xffffu;
    return uintBitsToFloat(hi << 16u);
#elif defined(W_Q8_0)
    return q8_0_value(rb, p.k, e);
#else
    return q6_k_value(rb, p.k, e);
#endif
}

uint row_bytes() {
#if defined(W_F32)
    return p.k * 4u;
#elif defined(W_F16) || defined(W_BF16)
    return p.k * 2u;
#elif defined(W_Q8_0)
    return q8_0_row_bytes(p.k);
#else
    return q6_k_row_bytes(p.k);
#endif
}

// The partial dot products of the row at byte rb with tokens t0..t0+3 (those
// below p.t) over the elements i0, i0+step, ...
vec4 partial_dots(uint rb, uint t0, uint i0, uint step) {
    vec4 acc = vec4(0.0);
    for (uint i = i0; i < p.k; i += step) {
        float wv = wval(rb, i);
        [[unroll]] for (uint tt = 0u; tt < 4u; tt++) {
            if (t0 + tt < p.t) {
                acc[tt] = fma(wv, x[p.x_off + (t0 + tt) * p.k + i], acc[tt]);
            }
        }
    }
    return acc;
}

#ifdef SUBGROUP
// A workgroup covers ROWS rows; each subgroup takes whole rows and reduces
// with subgroupAdd: no shared memory, no barrier.
layout(constant_id = 0) const uint ROWS = 8u; // rows per workgroup (the dispatch's grid divides by it)

void main() {
    for (uint rr = gl_SubgroupID; rr < ROWS; rr += gl_NumSubgroups) {
        uint r = gl_WorkGroupID.x * ROWS + rr;
        if (r >= p.rows) {
            break;
        }
        uint rb = p.w_off + r * row_bytes();
        for (uint t0 = 0u; t0 < p.t; t0 += 4u) {
            vec4 acc = subgroupAdd(partial_dots(rb, t0, gl_SubgroupInvocationID, gl_SubgroupSize));
            if (subgroupElect()) {
                for (uint tt = 0u; tt < 4u && t0 + tt < p.t; tt++) {
                    y[p.y_off + (t0 + tt) * p.n + p.row0 + r] = acc[tt];
                }
            }
        }
    }
}
#else
shared vec4 part[WG];

void main() {
    uint r = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    uint tid = gl_LocalInvocationID.x;
    uint rb = p.w_off + r * row_bytes();
    for (uint t0 = 0u; t0 < p.t; t0 += 4u) {
        part[tid] = partial_dots(rb, t0, tid, WG);
        barrier();
        for (uint st = WG / 2u; st > 0u; st >>= 1u) {
            if (tid < st) {
                part[tid] += part[tid + st];
            }
            barrier();
        }
        if (tid < 4u && t0 + tid < p.t) {
            y[p.y_off + (t0 + tid) * p.n + p.row0 + r] = part[0][tid];
        }
        barrier();
    }
}
#endif
