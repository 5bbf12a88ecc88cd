#version 450
// embed: dst row t = float32(table row ids[t]) for the ids in this
// dispatch's chunk of table rows [row0, row0+rows); the first chunk also
// writes zeros for ids outside [0, vocab). Table types: 0 F32, 1 F16,
// 2 BF16, 3 Q8_0, 4 I2_S (times scale; code 3 reads as 0), 5 Q6_K (Q8_0
// and Q6_K in the device layouts of include/quant_layout.glsl).
#include "numerics.glsl"

layout(local_size_x = 256) in;
layout(set = 0, binding = 0) readonly buffer T { uint tbl[]; };
#define QBUF tbl
#include "quant_layout.glsl"
layout(set = 0, binding = 1) readonly buffer IDS { int ids[]; };
layout(set = 0, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint k;        // row length
    uint rows;     // tokens
    uint row0;     // first table row of the chunk
    uint nrows;    // table rows in the chunk
    uint vocab;
    uint type;
    float scale;   // I2_S
    uint ids_off;
    uint y_off;
    uint first;    // 1: the first chunk
} p;

float value(uint r, uint e) {
    switch (p.type) {
    case 0u:
        return uintBitsToFloat(tbl[r * p.k + e]);
    case 1u:
        return HALF_AT(tbl, r * p.k + e);
    case 2u: {
        uint i = r * p.k + e;
        return uintBitsToFloat(((tbl[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu) << 16u);
    }
    case 3u:
        return q8_0_value(r * q8_0_row_bytes(p.k), p.k, e);
    case 5u:
        return q6_k_value(r * q6_k_row_bytes(p.k), p.k, e);
    default: {
        uint blk = e >> 7u, wi = e & 127u;
        uint byte = BYTE_AT(tbl, r * (p.k / 4u) + blk * 32u + (wi & 31u));
        uint c = (byte >> (6u - 2u * (wi >> 5u))) & 3u;
        float tv = c == 3u ? 0.0 : float(int(c) - 1);
        return tv * p.scale;
    }
    }
}

void main() {
    uint stride = gl_NumWorkGroups.x * 256u;
    for (uint i = gl_GlobalInvocationID.x; i < p.rows * p.k; i += stride) {
        uint t = i / p.k, e = i % p.k;
        int id = ids[p.ids_off + t];
        if (id < 0 || uint(id) >= p.vocab) {
            if (p.first != 0u) {
                y[p.y_off + i] = 0.0;
            }
            continue;
        }
        uint r = uint(id);
        if (r < p.row0 || r >= p.row0 + p.nrows) {
            continue;
        }
        y[p.y_off + i] = value(r - p.row0, e);
    }
}
