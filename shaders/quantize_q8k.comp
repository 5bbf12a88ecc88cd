#version 450
// quantize_q8k: ggml's Q8_K quantization of activations, per 256-element
// block: the signed value of largest magnitude maps to -127,
// q = min(127, roundEven(x * (-127/max))), block scale 1/iscale (0 for an
// all-zero block). q is packed four per uint; one workgroup per block.
#include "numerics.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Q { uint q[]; };
layout(set = 0, binding = 2) writeonly buffer S { float scales[]; };
layout(push_constant) uniform P {
    uint k; // row length, a multiple of 256
    uint x_off;
} p;

shared float amax[WG];
shared float smax[WG];

void main() {
    uint blk = gl_WorkGroupID.x; // block index over all rows
    uint tid = gl_LocalInvocationID.x;
    uint nb = p.k / 256u;
    uint row = blk / nb;
    uint xb = p.x_off + row * p.k + (blk % nb) * 256u;
    // Largest magnitude, the first one in order on ties (as ggml's scan).
    float a = 0.0, v = 0.0;
    for (uint i = tid; i < 256u; i += WG) {
        float xv = x[xb + i];
        if (abs(xv) > a) {
            a = abs(xv);
            v = xv;
        }
    }
    amax[tid] = a;
    smax[tid] = v;
    barrier();
    // Pairwise reduction keeping the earliest element on equal magnitude:
    // lanes hold strided elements, so compare by magnitude then keep the
    // lower lane (ties of equal magnitude with different signs are resolved
    // below by an ordered scan).
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s && amax[tid + s] > amax[tid]) {
            amax[tid] = amax[tid + s];
            smax[tid] = smax[tid + s];
        }
        barrier();
    }
    float am = amax[0];
    // Ordered scan for the first element with |x| == am (sign matters).
    float mx = smax[0];
    if (am > 0.0 && tid == 0u) {
        for (uint i = 0u; i < 256u; i++) {
            if (abs(x[xb + i]) == am) {
                mx = x[xb + i];
                break;
            }
        }
        smax[0] = mx;
    }
    barrier();
    mx = smax[0];
    float iscale = am == 0.0 ? 0.0 : div_rn(-127.0, mx);
    if (tid == 0u) {
        scales[blk] = am == 0.0 ? 0.0 : div_rn(1.0, iscale);
    }
    for (uint i = tid; i < 64u; i += WG) {
        uint word = 0u;
        [[unroll]] for (uint j = 0u; j < 4u; j++) {
            precise float t = iscale * x[xb + 4u * i + j];
            int qi = int(min(roundEven(t), 127.0));
            word |= (uint(qi) & 0xffu) << (8u * j);
        }
        q[blk * 64u + i] = word;
    }
}
