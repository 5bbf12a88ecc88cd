// Body of matmul_tq1_0 / matmul_tq2_0 (define TQ1 or TQ2 first): upstream
// ggml's ternary types dotted with Q8_K activations from quantize_q8k.
// Per 256-element block: sumi = sum trit*q exactly, then in block order
// sumf += float(sumi) * (q8_scale * d), as ggml's vec_dot.
#include "numerics.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer Wt { uint w[]; };
layout(set = 0, binding = 1) readonly buffer Q { uint q[]; };
layout(set = 0, binding = 2) readonly buffer S { float s[]; }; // [t][k/256]
layout(set = 0, binding = 3) buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint k;
    uint t;
    uint n;
    uint row0;
    uint y_off;
    uint w_off; // byte offset of this dispatch's first row in the bound weights
} p;

#ifdef TQ2
const uint BLOCK_BYTES = 66u;
const uint D_AT = 64u;
int trit(uint base, uint e) {
    uint j = e >> 7u, r = e & 127u;
    uint b = BYTE_AT(w, base + j * 32u + (r & 31u));
    return int((b >> (2u * (r >> 5u))) & 3u) - 1;
}
#else
const uint BLOCK_BYTES = 54u;
const uint D_AT = 52u;
const uint POW3[5] = uint[5](1u, 3u, 9u, 27u, 81u);
int trit_of(uint b, uint n) {
    uint v = (b * POW3[n]) & 255u;
    return int((v * 3u) >> 8u) - 1;
}
int trit(uint base, uint e) {
    if (e < 160u) {
        return trit_of(BYTE_AT(w, base + (e & 31u)), e >> 5u);
    }
    if (e < 240u) {
        uint r = e - 160u;
        return trit_of(BYTE_AT(w, base + 32u + (r & 15u)), r >> 4u);
    }
    uint r = e - 240u;
    return trit_of(BYTE_AT(w, base + 48u + (r & 3u)), r >> 2u);
}
#endif

shared int part[WG];

void main() {
    uint r = gl_WorkGroupID.x;
    uint tid = gl_LocalInvocationID.x;
    uint nb = p.k / 256u;
    uint rowb = p.w_off + r * nb * BLOCK_BYTES;
    for (uint t = 0u; t < p.t; t++) {
        float sumf = 0.0;
        for (uint b = 0u; b < nb; b++) {
            uint base = rowb + b * BLOCK_BYTES;
            // 64 threads x 4 elements = one block.
            uint qw = q[(t * nb + b) * 64u + tid];
            int acc = 0;
            [[unroll]] for (uint j = 0u; j < 4u; j++) {
                acc += trit(base, 4u * tid + j) * bitfieldExtract(int(qw), int(8u * j), 8);
            }
            part[tid] = acc;
            barrier();
            for (uint st = WG / 2u; st > 0u; st >>= 1u) {
                if (tid < st) {
                    part[tid] += part[tid + st];
                }
                barrier();
            }
            if (tid == 0u) {
                uint dh = BYTE_AT(w, base + D_AT) | (BYTE_AT(w, base + D_AT + 1u) << 8u);
                precise float dd = s[t * nb + b] * f16_to_f32(dh);
                precise float prod = float(part[0]) * dd;
                sumf = sumf + prod;
            }
            barrier();
        }
        if (tid == 0u) {
            y[p.y_off + t * p.n + p.row0 + r] = sumf;
        }
    }
}
