// Body of matmul_tq1_0 / matmul_tq2_0 (define TQ1 or TQ2 first): upstream
// ggml's ternary types dotted with Q8_K activations from quantize_q8k.
// Per 256-element block: sumi = sum trit*q exactly, then in block order
// sumf += float(sumi) * (q8_scale * d), as ggml's vec_dot.
#include "tq_common.glsl"

layout(local_size_x = 64) in;

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
