#version 450
// attn_split: causal attention with grouped KV heads, split across
// workgroups (flash decoding). A workgroup takes the G query heads that
// share KV head g, one chunk of CH cache positions and one query row; it
// writes, per head, the unnormalized output sum_j exp(s_j - m) v_j, the
// chunk's score maximum m and the sum l of exp(s_j - m), which attn_combine
// merges. Q is rounded to the cache type; each score is a float32 sum in
// dimension order, as the CPU reference computes it. Chunks past a row's
// position do nothing.
#include "numerics.glsl"

layout(local_size_x_id = 0) in;                // CH: one position per invocation
layout(constant_id = 1) const uint HD = 128u;  // head dimension (even)
layout(constant_id = 2) const uint G = 4u;     // query heads per KV head
const uint CH = gl_WorkGroupSize.x;

layout(set = 0, binding = 0) readonly buffer Q { float q[]; };
layout(set = 0, binding = 1) readonly buffer K { uint kc[]; };
layout(set = 0, binding = 2) readonly buffer V { uint vc[]; };
layout(set = 0, binding = 3) readonly buffer POS { int pos[]; };
layout(set = 0, binding = 4) writeonly buffer PART { float part[]; }; // [row][head][chunk][HD + 2]
layout(push_constant) uniform P {
    uint n_head;
    uint n_kv_head;
    uint q_off;   // element offset of q
    uint pos_off; // element offset of the row positions
    uint f16;     // cache type: 1 F16 (two per uint), 0 F32
    float scale;
    uint nchunks;
} p;

shared float qh[G * HD];
shared float sc[G * CH];
shared float red[G * CH];
shared vec2 red2[G * CH];

float kv(uint f16, bool isv, uint i) {
    if (f16 != 0u) {
        uint w = isv ? vc[i >> 1u] : kc[i >> 1u];
        return unpackHalf2x16(w)[i & 1u];
    }
    return uintBitsToFloat(isv ? vc[i] : kc[i]);
}

void main() {
    uint g = gl_WorkGroupID.x;
    uint c = gl_WorkGroupID.y;
    uint row = gl_WorkGroupID.z;
    uint tid = gl_LocalInvocationID.x;
    uint n = uint(pos[p.pos_off + row]) + 1u; // positions 0..pos attend
    uint j0 = c * CH;
    if (j0 >= n) {
        return;
    }
    uint nj = min(CH, n - j0);
    uint qk = p.n_head * HD;
    uint kvdim = p.n_kv_head * HD;
    for (uint i = tid; i < G * HD; i += CH) {
        float v = q[p.q_off + row * qk + (g * G + i / HD) * HD + i % HD];
        qh[i] = p.f16 != 0u ? round_f16(v) : v;
    }
    barrier();
    // Scores of position j0+tid for the G heads.
    float s[G];
    [[unroll]] for (uint h = 0u; h < G; h++) {
        s[h] = uintBitsToFloat(0xff800000u); // -inf
    }
    if (tid < nj) {
        uint kb = (j0 + tid) * kvdim + g * HD;
        precise float acc[G];
        [[unroll]] for (uint h = 0u; h < G; h++) {
            acc[h] = 0.0;
        }
        if (p.f16 != 0u) {
            for (uint d = 0u; d < HD; d += 2u) {
                vec2 kk = unpackHalf2x16(kc[(kb + d) >> 1u]);
                [[unroll]] for (uint h = 0u; h < G; h++) {
                    precise float a = qh[h * HD + d] * kk.x;
                    acc[h] = acc[h] + a;
                    precise float b = qh[h * HD + d + 1u] * kk.y;
                    acc[h] = acc[h] + b;
                }
            }
        } else {
            for (uint d = 0u; d < HD; d++) {
                float kk = uintBitsToFloat(kc[kb + d]);
                [[unroll]] for (uint h = 0u; h < G; h++) {
                    precise float a = qh[h * HD + d] * kk;
                    acc[h] = acc[h] + a;
                }
            }
        }
        [[unroll]] for (uint h = 0u; h < G; h++) {
            precise float ss = acc[h] * p.scale;
            s[h] = ss;
        }
    }
    [[unroll]] for (uint h = 0u; h < G; h++) {
        red[h * CH + tid] = s[h];
    }
    barrier();
    for (uint st = CH / 2u; st > 0u; st >>= 1u) {
        if (tid < st) {
            [[unroll]] for (uint h = 0u; h < G; h++) {
                red[h * CH + tid] = max(red[h * CH + tid], red[h * CH + tid + st]);
            }
        }
        barrier();
    }
    [[unroll]] for (uint h = 0u; h < G; h++) {
        float e = tid < nj ? exp(s[h] - red[h * CH]) : 0.0;
        sc[h * CH + tid] = e;
        red2[h * CH + tid] = vec2(e, 0.0);
    }
    barrier();
    for (uint st = CH / 2u; st > 0u; st >>= 1u) {
        if (tid < st) {
            [[unroll]] for (uint h = 0u; h < G; h++) {
                red2[h * CH + tid] = df_add(red2[h * CH + tid], red2[h * CH + tid + st]);
            }
        }
        barrier();
    }
    // Weighted values: invocation tid takes dimensions tid, tid+CH, ...
    uint vb = j0 * kvdim + g * HD;
    for (uint d = tid; d < HD; d += CH) {
        precise float acc[G];
        [[unroll]] for (uint h = 0u; h < G; h++) {
            acc[h] = 0.0;
        }
        for (uint j = 0u; j < nj; j++) {
            float vv = kv(p.f16, true, vb + j * kvdim + d);
            [[unroll]] for (uint h = 0u; h < G; h++) {
                precise float t = sc[h * CH + j] * vv;
                acc[h] = acc[h] + t;
            }
        }
        [[unroll]] for (uint h = 0u; h < G; h++) {
            uint base = ((row * p.n_head + g * G + h) * p.nchunks + c) * (HD + 2u);
            part[base + d] = acc[h];
        }
    }
    if (tid < G) {
        uint base = ((row * p.n_head + g * G + tid) * p.nchunks + c) * (HD + 2u);
        vec2 l = red2[tid * CH];
        part[base + HD] = red[tid * CH];
        part[base + HD + 1u] = l.x + l.y;
    }
}
