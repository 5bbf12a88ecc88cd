#version 450
// attention: causal softmax(Q.K^T * scale) V with grouped KV heads, one
// workgroup per (query row, head). Q is rounded to the cache type; each
// score is a float32 sum in dimension order (as the CPU reference); the
// softmax subtracts the row maximum, its sum is two-float (the CPU sums in
// float64); probabilities stay float32 and the output sums keys in order.
#include "numerics.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer Q { float q[]; };
layout(set = 0, binding = 1) readonly buffer K { uint kc[]; };
layout(set = 0, binding = 2) readonly buffer V { uint vc[]; };
layout(set = 0, binding = 3) coherent buffer Sc { float sc[]; }; // scratch [rows*heads][nctx], shared by the workgroup
layout(set = 0, binding = 4) buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint n_head;
    uint n_kv_head;
    uint head_dim; // <= 256
    uint pos0;
    uint nctx;     // cache rows (scratch row stride)
    uint q_off;
    uint y_off;
    uint f16;      // cache type: 1 F16, 0 F32
    float scale;
} p;

shared float qh[256];
shared vec2 red[WG];

float kval(uint i) { return p.f16 != 0u ? HALF_AT(kc, i) : uintBitsToFloat(kc[i]); }
float vval(uint i) { return p.f16 != 0u ? HALF_AT(vc, i) : uintBitsToFloat(vc[i]); }

void main() {
    uint h = gl_WorkGroupID.x;
    uint row = gl_WorkGroupID.y;
    uint tid = gl_LocalInvocationID.x;
    uint hd = p.head_dim;
    uint kvh = h / (p.n_head / p.n_kv_head);
    uint kvdim = p.n_kv_head * hd;
    uint qk = p.n_head * hd;
    uint n = p.pos0 + row + 1u;
    uint sb = (row * p.n_head + h) * p.nctx;
    for (uint d = tid; d < hd; d += WG) {
        float v = q[p.q_off + row * qk + h * hd + d];
        qh[d] = p.f16 != 0u ? round_f16(v) : v;
    }
    barrier();
    float mx = uintBitsToFloat(0xff800000u); // -inf
    for (uint j = tid; j < n; j += WG) {
        precise float s = 0.0;
        uint kb = j * kvdim + kvh * hd;
        for (uint d = 0u; d < hd; d++) {
            precise float pr = qh[d] * kval(kb + d);
            s = s + pr;
        }
        precise float ss = s * p.scale;
        sc[sb + j] = ss;
        mx = max(mx, ss);
    }
    red[tid] = vec2(mx, 0.0);
    barrier();
    for (uint st = WG / 2u; st > 0u; st >>= 1u) {
        if (tid < st) {
            red[tid].x = max(red[tid].x, red[tid + st].x);
        }
        barrier();
    }
    mx = red[0].x;
    barrier();
    vec2 sum = vec2(0.0);
    for (uint j = tid; j < n; j += WG) {
        float e = exp(sc[sb + j] - mx);
        sc[sb + j] = e;
        sum = df_add(sum, vec2(e, 0.0));
    }
    red[tid] = sum;
    barrier();
    for (uint st = WG / 2u; st > 0u; st >>= 1u) {
        if (tid < st) {
            red[tid] = df_add(red[tid], red[tid + st]);
        }
        barrier();
    }
    vec2 tot = red[0];
    // inv = float32(1 / (hi + lo)).
    float inv = div_rn(1.0, tot.x);
    precise float res = residual(1.0, inv, tot.x) - inv * tot.y;
    precise float invc = inv + res * inv;
    inv = invc;
    memoryBarrierBuffer();
    barrier();
    for (uint d = tid; d < hd; d += WG) {
        precise float acc = 0.0;
        for (uint j = 0u; j < n; j++) {
            precise float pr = sc[sb + j] * inv;
            precise float t = pr * vval(j * kvdim + kvh * hd + d);
            acc = acc + t;
        }
        y[p.y_off + row * qk + h * hd + d] = acc;
    }
}
