#version 450
// rope_store: RoPE of the query and key heads of each row with the table
// row of its position, and the store of the (rotated) keys and the values
// into the KV caches at that position, in one dispatch. A workgroup takes
// one head of one row: the query heads (Y = rotated X), then the key heads
// (rotated, then stored when STORE_K), then the value heads (stored). The
// table holds cos and sin per pair, computed by the host in float64 (see
// compute.RoPETable), so the rotation is bit-exact with the CPU's. NeoX
// pairs (i, i+dims/2), normal mode (2i, 2i+1); dimensions past dims pass
// through. An F16 cache holds two halves per uint, rounded to nearest even.
#include "numerics.glsl"

layout(local_size_x_id = 0) in;               // HD / 2: one element pair per invocation
layout(constant_id = 1) const uint HD = 128u;  // head dimension (even)

layout(set = 0, binding = 0) readonly buffer POS { int pos[]; };
layout(set = 0, binding = 1) readonly buffer TAB { float tab[]; }; // [position][dims]
layout(set = 0, binding = 2) readonly buffer QX { float qx[]; };
layout(set = 0, binding = 3) writeonly buffer QY { float qy[]; };
layout(set = 0, binding = 4) readonly buffer KX { float kx[]; };
layout(set = 0, binding = 5) writeonly buffer KY { float ky[]; };
layout(set = 0, binding = 6) readonly buffer VX { float vx[]; };
layout(set = 0, binding = 7) buffer KC { uint kc[]; };
layout(set = 0, binding = 8) buffer VC { uint vc[]; };
layout(push_constant) uniform P {
    uint qheads;  // query heads per row (0: none)
    uint kheads;  // key heads per row to rotate (0: none)
    uint vheads;  // value heads per row to store (0: none)
    uint dims;    // rotated dimensions per head
    uint neox;
    uint pos_off;
    uint qx_off, qy_off, kx_off, ky_off, vx_off;
    uint flags;   // 1: STORE_K, 2: F16 cache, 4: ROTATE_K (else keys are stored as they are)
} p;

shared float xs[HD];

// rotated returns element e of the head in xs at the position's table row tb.
float rotated(uint e, uint tb) {
    if (e >= p.dims) {
        return xs[e];
    }
    uint half_ = p.dims / 2u;
    uint a, b, j;
    if (p.neox != 0u) {
        j = e < half_ ? e : e - half_;
        a = j;
        b = j + half_;
    } else {
        j = e / 2u;
        a = 2u * j;
        b = a + 1u;
    }
    float c = tab[tb + 2u * j];
    float s = tab[tb + 2u * j + 1u];
    precise float o;
    if (e == a) {
        o = xs[a] * c - xs[b] * s;
    } else {
        o = xs[a] * s + xs[b] * c;
    }
    return o;
}

void store(uint cache, uint row_pos, uint kvheads, uint head, uint m, vec2 v) {
    uint kvdim = kvheads * HD;
    uint e = row_pos * kvdim + head * HD + 2u * m;
    if ((p.flags & 2u) != 0u) {
        uint w = f32_to_f16(v.x) | (f32_to_f16(v.y) << 16u);
        if (cache == 0u) {
            kc[e >> 1u] = w;
        } else {
            vc[e >> 1u] = w;
        }
    } else if (cache == 0u) {
        kc[e] = floatBitsToUint(v.x);
        kc[e + 1u] = floatBitsToUint(v.y);
    } else {
        vc[e] = floatBitsToUint(v.x);
        vc[e + 1u] = floatBitsToUint(v.y);
    }
}

void main() {
    uint hidx = gl_WorkGroupID.x;
    uint row = gl_WorkGroupID.y;
    uint m = gl_LocalInvocationID.x; // elements 2m, 2m+1 of the head
    uint ps = uint(pos[p.pos_off + row]);
    uint tb = ps * p.dims;
    if (hidx < p.qheads) {
        uint o = row * p.qheads * HD + hidx * HD;
        xs[2u * m] = qx[p.qx_off + o + 2u * m];
        xs[2u * m + 1u] = qx[p.qx_off + o + 2u * m + 1u];
        barrier();
        qy[p.qy_off + o + 2u * m] = rotated(2u * m, tb);
        qy[p.qy_off + o + 2u * m + 1u] = rotated(2u * m + 1u, tb);
        return;
    }
    hidx -= p.qheads;
    if (hidx < p.kheads) {
        uint o = row * p.kheads * HD + hidx * HD;
        vec2 v = vec2(kx[p.kx_off + o + 2u * m], kx[p.kx_off + o + 2u * m + 1u]);
        if ((p.flags & 4u) != 0u) {
            xs[2u * m] = v.x;
            xs[2u * m + 1u] = v.y;
            barrier();
            v = vec2(rotated(2u * m, tb), rotated(2u * m + 1u, tb));
            ky[p.ky_off + o + 2u * m] = v.x;
            ky[p.ky_off + o + 2u * m + 1u] = v.y;
        }
        if ((p.flags & 1u) != 0u) {
            store(0u, ps, p.kheads, hidx, m, v);
        }
        return;
    }
    hidx -= p.kheads;
    uint o = row * p.vheads * HD + hidx * HD;
    store(1u, ps, p.vheads, hidx, m, vec2(vx[p.vx_off + o + 2u * m], vx[p.vx_off + o + 2u * m + 1u]));
}
