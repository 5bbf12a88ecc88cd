// Body of matvec_i2s / matvec_i2s_dot: ternary I2_S weights times int8
// activations for a few tokens (decode), one subgroup per weight row.
//
// Rows are read 16 bytes per load; K (the row length) is a specialization
// constant, so the loop over a row's loads unrolls and every load of a lane
// is in flight at once. A lane's 16 bytes are half of a 32-byte I2_S block
// (128 weights): byte j of a block holds weights j, 32+j, 64+j, 96+j in
// bits 7:6, 5:4, 3:2, 1:0, so word jj of the load, shifted by 6-2g and
// masked with 0x03030303, holds the codes of four consecutive weights of
// group g, the ones the activation word 8g+j of the block multiplies.
//
// Codes are 0, 1, 2 for -1, 0, +1 (the backend replaces the never-written
// code 3 by 1 when it uploads the weights), so the ternary dot product is
// sum(code * q) - sum(q), exact in int32; the epilogue is the CPU
// reference's: float(dot) / s * wscale.
//
// One dispatch covers up to three weights (segments: q, k and v of one
// input), each workgroup inside one segment; with PAIR it covers two
// weights of the same shape (gate and up) row by row and writes
// act(gate) * up; with RESID segment 0's output is also added to a
// residual: ro = r + y. With TAIL, the last workgroup to finish (an atomic
// counter) applies the RMSNorm that follows to the finished rows (ro with
// RESID, else y0) and writes their int8 quantization for the next ternary
// matmul (see rmsnorm_row.glsl): the norm costs no dispatch of its own.
//
// Q holds the int8 activations: per token the scale and the code sum at
// words 2t and 2t+1, the codes from word q_off (K/4 words per token).
#include "numerics.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint K = 2560u; // row length, a multiple of 128
layout(constant_id = 2) const uint TMAX = 4u; // tokens the shared memory holds
layout(constant_id = 3) const uint ROWS = 8u; // rows per workgroup (one per subgroup, if the subgroups are as wide as expected)
layout(constant_id = 4) const uint SG = 32u;  // the expected subgroup size
const uint WGS = gl_WorkGroupSize.x;
const uint N16 = K / 64u;                     // 16-byte loads per row
const uint NL = (N16 + SG - 1u) / SG;         // loads per lane of a row

layout(set = 0, binding = 0) readonly buffer W0 { uvec4 w0[]; };
layout(set = 0, binding = 1) readonly buffer W1 { uvec4 w1[]; };
layout(set = 0, binding = 2) readonly buffer W2 { uvec4 w2[]; };
layout(set = 0, binding = 3) coherent buffer Q { uvec4 q4[]; };
layout(set = 0, binding = 4) coherent buffer Y0 { float y0[]; };
layout(set = 0, binding = 5) writeonly buffer Y1 { float y1[]; };
layout(set = 0, binding = 6) writeonly buffer Y2 { float y2[]; };
layout(set = 0, binding = 7) readonly buffer R { float r[]; };
layout(set = 0, binding = 8) coherent buffer RO { float ro[]; };
layout(set = 0, binding = 9) readonly buffer NW { float nw[]; };
layout(set = 0, binding = 10) coherent buffer NY { float ny[]; };
layout(set = 0, binding = 11) coherent buffer CNT { uint cnt[]; };
layout(push_constant) uniform P {
    uint t;                      // tokens (<= TMAX)
    uint n0, n1, n2;             // rows of each segment (0: absent)
    float s0, s1, s2;            // weight scales
    uint y0_off, y1_off, y2_off; // element offsets of the outputs
    uint r_off, ro_off;
    uint flags;                  // 1 PAIR, 2 SiLU (else ReLU^2), 4 RESID, 8 PAIR writes gate to Y2, 16 TAIL norm, 32 TAIL quantizes
    uint q_off;                  // word offset of the codes in Q
    uint ny_off;                 // element offset of the tail's output
    float eps;                   // the tail's norm epsilon
    uint slot;                   // the tail's counter
} p;

shared uvec4 qs[TMAX * (K / 16u)];
shared bool last;

#include "dot4.glsl"

// dots adds, for each token, the dot of the 16 weight bytes wv (load i of
// a row) with the matching activations.
void dots(uvec4 wv, uint i, inout ivec4 acc) {
    uint qi = (i >> 1u) * 8u + (i & 1u); // uvec4 index of group 0 in token 0
    [[unroll]] for (uint g = 0u; g < 4u; g++) {
        uint sh = 6u - 2u * g;
        uvec4 c = (wv >> sh) & 0x03030303u;
        [[unroll]] for (uint tt = 0u; tt < TMAX; tt++) {
            if (tt < p.t) {
                uvec4 qv = qs[tt * (K / 16u) + qi + 2u * g];
                acc[tt] += dot4(c.x, qv.x) + dot4(c.y, qv.y) + dot4(c.z, qv.z) + dot4(c.w, qv.w);
            }
        }
    }
}

// Word i of Q.
#define QW(i) q4[(i) >> 2u][(i) & 3u]

float epilogue(int acc, uint tt, float ws) {
    float sx = uintBitsToFloat(QW(2u * tt));
    int sum = int(QW(2u * tt + 1u));
    precise float v = div_rn(float(acc - sum), sx) * ws;
    return v;
}

void write_row(uint row, uint seg, bool pair, ivec4 acc, ivec4 acc2) {
    for (uint tt = 0u; tt < p.t; tt++) {
        if (pair) {
            float g = epilogue(acc[tt], tt, p.s0);
            float u = epilogue(acc2[tt], tt, p.s1);
            precise float o;
            if ((p.flags & 2u) == 0u) {
                float rl = max(g, 0.0);
                o = rl * rl * u;
            } else {
                o = div_rn(g, 1.0 + exp(-g)) * u;
            }
            y0[p.y0_off + tt * p.n0 + row] = o;
            y1[p.y1_off + tt * p.n0 + row] = u;
            if ((p.flags & 8u) != 0u) {
                y2[p.y2_off + tt * p.n0 + row] = g;
            }
        } else if (seg == 0u) {
            float v = epilogue(acc[tt], tt, p.s0);
            y0[p.y0_off + tt * p.n0 + row] = v;
            if ((p.flags & 4u) != 0u) {
                precise float s = r[p.r_off + tt * p.n0 + row] + v;
                ro[p.ro_off + tt * p.n0 + row] = s;
            }
        } else if (seg == 1u) {
            y1[p.y1_off + tt * p.n1 + row] = epilogue(acc[tt], tt, p.s1);
        } else {
            y2[p.y2_off + tt * p.n2 + row] = epilogue(acc[tt], tt, p.s2);
        }
    }
}

// The tail's accessors: token tt's row of the finished output.
uint tt_;
bool resid_;
#define XV(i) (resid_ ? ro[p.ro_off + tt_ * p.n0 + (i)] : y0[p.y0_off + tt_ * p.n0 + (i)])
#define YV(i) ny[p.ny_off + tt_ * p.n0 + (i)]
#define WV(i) nw[(i)]
#define Q8(i) QW(p.q_off + tt_ * (p.n0 / 4u) + (i))
#define QM(i) QW(2u * tt_ + (i))
#include "rmsnorm_row.glsl"

// load_row reads the 16-byte loads of this lane of a row of the segment's
// weight (and of W1 with PAIR) into registers, every load in flight at once.
void load_row(uint row, uint seg, bool pair, uint lane, out uvec4 a[NL], out uvec4 b[NL]) {
    uint base = row * N16;
    if (pair || seg == 0u) {
        [[unroll]] for (uint j = 0u; j < NL; j++) {
            a[j] = w0[base + min(lane + j * SG, N16 - 1u)];
        }
    } else if (seg == 1u) {
        [[unroll]] for (uint j = 0u; j < NL; j++) {
            a[j] = w1[base + min(lane + j * SG, N16 - 1u)];
        }
    } else {
        [[unroll]] for (uint j = 0u; j < NL; j++) {
            a[j] = w2[base + min(lane + j * SG, N16 - 1u)];
        }
    }
    if (pair) {
        [[unroll]] for (uint j = 0u; j < NL; j++) {
            b[j] = w1[base + min(lane + j * SG, N16 - 1u)];
        }
    }
}

void main() {
    uint tid = gl_LocalInvocationID.x;
    uint wg = gl_WorkGroupID.x;
    bool pair = (p.flags & 1u) != 0u;
    // The workgroup's segment and its first row there.
    uint seg = 0u, nseg = p.n0;
    uint g0 = (p.n0 + ROWS - 1u) / ROWS;
    uint g1 = (p.n1 + ROWS - 1u) / ROWS;
    if (wg >= g0) {
        wg -= g0;
        seg = 1u;
        nseg = p.n1;
        if (wg >= g1) {
            wg -= g1;
            seg = 2u;
            nseg = p.n2;
        }
    }
    uint lane = gl_SubgroupInvocationID;
    bool fast = gl_SubgroupSize == SG;
    // The first row's weights are on their way while the activations are
    // copied to shared memory.
    uvec4 a[NL], b[NL];
    uint row0 = wg * ROWS + gl_SubgroupID;
    if (fast && gl_SubgroupID < ROWS && row0 < nseg) {
        load_row(row0, seg, pair, lane, a, b);
    }
    for (uint i = tid; i < p.t * (K / 16u); i += WGS) {
        qs[i] = q4[p.q_off / 4u + i];
    }
    barrier();
    for (uint rr = gl_SubgroupID; rr < ROWS; rr += gl_NumSubgroups) {
        uint row = wg * ROWS + rr;
        if (row >= nseg) {
            break;
        }
        uint base = row * N16;
        ivec4 acc = ivec4(0), acc2 = ivec4(0);
        if (fast) {
            if (row != row0) {
                load_row(row, seg, pair, lane, a, b);
            }
            [[unroll]] for (uint j = 0u; j < NL; j++) {
                uint i = lane + j * SG;
                if (i < N16) {
                    dots(a[j], i, acc);
                    if (pair) {
                        dots(b[j], i, acc2);
                    }
                }
            }
        } else if (pair) {
            for (uint i = lane; i < N16; i += gl_SubgroupSize) {
                dots(w0[base + i], i, acc);
                dots(w1[base + i], i, acc2);
            }
        } else if (seg == 0u) {
            for (uint i = lane; i < N16; i += gl_SubgroupSize) {
                dots(w0[base + i], i, acc);
            }
        } else if (seg == 1u) {
            for (uint i = lane; i < N16; i += gl_SubgroupSize) {
                dots(w1[base + i], i, acc);
            }
        } else {
            for (uint i = lane; i < N16; i += gl_SubgroupSize) {
                dots(w2[base + i], i, acc);
            }
        }
        acc = subgroupAdd(acc);
        if (pair) {
            acc2 = subgroupAdd(acc2);
        }
        if (subgroupElect()) {
            write_row(row, seg, pair, acc, acc2);
        }
    }
    if ((p.flags & 16u) == 0u) {
        return;
    }
    // The tail: the last workgroup normalizes the finished rows.
    memoryBarrierBuffer();
    barrier();
    if (tid == 0u) {
        last = atomicAdd(cnt[p.slot], 1u) == gl_NumWorkGroups.x - 1u;
    }
    barrier();
    if (!last) {
        return;
    }
    memoryBarrierBuffer();
    resid_ = (p.flags & 4u) != 0u;
    for (tt_ = 0u; tt_ < p.t; tt_++) {
        rmsnorm_row(p.n0, p.eps, true, (p.flags & 32u) != 0u);
    }
    if (tid == 0u) {
        cnt[p.slot] = 0u;
    }
}
