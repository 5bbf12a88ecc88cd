// Bindings and push constants of the TQ1_0/TQ2_0 prompt kernels
// (matmul_tq, matmul_tq_tiled), and the trits of those types in the
// weights buffer w[] (define TQ1 or TQ2 first): BLOCK_BYTES per
// 256-element block, its F16 scale d at byte D_AT, and trit(base, e),
// weight e (-1, 0 or 1) of the block at byte base.
#ifndef TQ_COMMON_GLSL
#define TQ_COMMON_GLSL
#include "numerics.glsl"

layout(set = 0, binding = 0) readonly buffer Wt { uint w[]; };
layout(set = 0, binding = 1) readonly buffer Q { uint q[]; };  // int8 codes, [t][k]
layout(set = 0, binding = 2) readonly buffer S { float s[]; }; // [t][k/256]
layout(set = 0, binding = 3) buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint k;     // row length, a multiple of 256
    uint t;     // tokens
    uint n;     // output rows in total (dst row stride)
    uint row0;  // output row of the dispatch's first row
    uint y_off;
    uint w_off; // byte offset of this dispatch's first row in the bound weights
    uint rows;  // rows of this dispatch (the tiled kernel's bound)
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
#endif
