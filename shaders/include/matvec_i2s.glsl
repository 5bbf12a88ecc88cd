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
// residual: ro = r + y.
//
// The int8 activations come either from Q (per token the scale and the
// code sum at words 2t and 2t+1, the codes from word q_off, K/4 words per
// token), or, with NORM, from the RMSNorm that precedes the matmul: every
// workgroup normalizes and quantizes the rows of X itself (see
// rmsnorm_row.glsl; the same code in every workgroup, so every workgroup
// gets the same codes) while its weights are on their way, and workgroup 0
// also writes the normalized rows to NY. The norm costs no dispatch and no
// trip through memory.
//
// Shared memory holds the codes group-major (see qidx): the lanes of a
// subgroup, which read consecutive 16-byte loads of a row, read
// consecutive 16-byte activation words, without bank conflicts.
#include "numerics.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint K = 2560u; // row length, a multiple of 128
layout(constant_id = 2) const uint TMAX = 4u; // tokens (at most 4; the dispatch's count, so T = 1 reduces one sum)
layout(constant_id = 3) const uint ROWS = 8u; // rows per workgroup (one per subgroup, if the subgroups are as wide as expected)
layout(constant_id = 4) const uint SG = 32u;  // the expected subgroup size
const uint WGS = gl_WorkGroupSize.x;
const uint N16 = K / 64u;                     // 16-byte loads per row
const uint NL = (N16 + SG - 1u) / SG;         // loads per lane of a row

layout(set = 0, binding = 0) readonly buffer W0 { uvec4 w0[]; };
layout(set = 0, binding = 1) readonly buffer W1 { uvec4 w1[]; };
layout(set = 0, binding = 2) readonly buffer W2 { uvec4 w2[]; };
layout(set = 0, binding = 3) readonly buffer Q { uvec4 q4[]; };
layout(set = 0, binding = 4) writeonly buffer Y0 { float y0[]; };
layout(set = 0, binding = 5) writeonly buffer Y1 { float y1[]; };
layout(set = 0, binding = 6) writeonly buffer Y2 { float y2[]; };
layout(set = 0, binding = 7) readonly buffer R { float r[]; };
layout(set = 0, binding = 8) writeonly buffer RO { float ro[]; };
layout(set = 0, binding = 9) readonly buffer NW { float nw[]; };
layout(set = 0, binding = 10) writeonly buffer NY { float ny[]; };
layout(set = 0, binding = 11) readonly buffer X { float xin[]; };
layout(push_constant) uniform P {
    uint t;                      // tokens (<= TMAX)
    uint n0, n1, n2;             // rows of each segment (0: absent)
    float s0, s1, s2;            // weight scales
    uint y0_off, y1_off, y2_off; // element offsets of the outputs
    uint r_off, ro_off;
    uint flags;                  // 1 PAIR, 2 SiLU (else ReLU^2), 4 RESID, 8 PAIR writes gate to Y2, 16 NORM
    uint q_off;                  // word offset of the codes in Q
    uint x_off;                  // NORM: element offsets of X and NY
    uint ny_off;
    float eps;                   // NORM: the norm's epsilon
} p;

shared uvec4 qs[TMAX * (K / 16u)]; // codes of token t from t*K/16, in qidx order
shared uint qm[2u * TMAX];         // per token its scale and code sum

// qidx returns the place in a token's shared codes of its 16-byte word u
// (u = 8b + 2g + h: block b, group g, half h), which load i = 2b + h of a
// row multiplies in group g: g*N16 + i.
uint qidx(uint u) {
    return ((u >> 1u) & 3u) * N16 + ((u >> 3u) << 1u) + (u & 1u);
}

#include "dot4.glsl"

// dots adds, for each token, the dot of the 16 weight bytes wv (load i of
// a row) with the matching activations to acc, and with PAIR the dot of
// wv2 (load i of the other weight's row) to acc2.
void dots(uvec4 wv, uvec4 wv2, bool pair, uint i, inout ivec4 acc, inout ivec4 acc2) {
    [[unroll]] for (uint g = 0u; g < 4u; g++) {
        uint sh = 6u - 2u * g;
        uvec4 c = (wv >> sh) & 0x03030303u;
        uvec4 c2 = (wv2 >> sh) & 0x03030303u;
        [[unroll]] for (uint tt = 0u; tt < TMAX; tt++) {
            if (tt < p.t) {
                uvec4 qv = qs[tt * (K / 16u) + g * N16 + i];
                acc[tt] += dot4(c.x, qv.x) + dot4(c.y, qv.y) + dot4(c.z, qv.z) + dot4(c.w, qv.w);
                if (pair) {
                    acc2[tt] += dot4(c2.x, qv.x) + dot4(c2.y, qv.y) + dot4(c2.z, qv.z) + dot4(c2.w, qv.w);
                }
            }
        }
    }
}

// sg_add sums the first TMAX lanes of v over the subgroup.
ivec4 sg_add(ivec4 v) {
    if (TMAX == 1u) {
        return ivec4(subgroupAdd(v.x), 0, 0, 0);
    }
    if (TMAX == 2u) {
        return ivec4(subgroupAdd(v.xy), 0, 0);
    }
    return subgroupAdd(v);
}

// Word i of Q.
#define QW(i) q4[(i) >> 2u][(i) & 3u]

float epilogue(int acc, uint tt, float ws) {
    float sx = uintBitsToFloat(qm[2u * tt]);
    int sum = int(qm[2u * tt + 1u]);
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

// NORM's accessors: token tt_'s rows of X and NY, its shared codes.
uint tt_;
#define XV(i) xin[p.x_off + tt_ * K + (i)]
#define YV(i) ny[p.ny_off + tt_ * K + (i)]
#define YOK (gl_WorkGroupID.x == 0u)
#define WV(i) nw[(i)]
#define Q8(i) qs[tt_ * (K / 16u) + qidx((i) >> 2u)][(i) & 3u]
#define QM(i) qm[2u * tt_ + (i)]
#define RMS_MAXK K
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
    // normalized or copied to shared memory.
    uvec4 a[NL], b[NL];
    uint row0 = wg * ROWS + gl_SubgroupID;
    if (fast && gl_SubgroupID < ROWS && row0 < nseg) {
        load_row(row0, seg, pair, lane, a, b);
    }
    if ((p.flags & 16u) != 0u) {
        for (tt_ = 0u; tt_ < p.t; tt_++) {
            rmsnorm_row(K, p.eps, true, true);
        }
    } else {
        for (uint i = tid; i < p.t * (K / 16u); i += WGS) {
            uint tt = i / (K / 16u);
            uint u = i - tt * (K / 16u);
            qs[tt * (K / 16u) + qidx(u)] = q4[p.q_off / 4u + i];
        }
        if (tid < 2u * p.t) {
            qm[tid] = QW(tid);
        }
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
                    dots(a[j], b[j], pair, i, acc, acc2);
                }
            }
        } else if (pair) {
            for (uint i = lane; i < N16; i += gl_SubgroupSize) {
                dots(w0[base + i], w1[base + i], true, i, acc, acc2);
            }
        } else {
            for (uint i = lane; i < N16; i += gl_SubgroupSize) {
                uvec4 wv = seg == 0u ? w0[base + i] : seg == 1u ? w1[base + i] : w2[base + i];
                dots(wv, wv, false, i, acc, acc2);
            }
        }
        acc = sg_add(acc);
        if (pair) {
            acc2 = sg_add(acc2);
        }
        if (subgroupElect()) {
            write_row(row, seg, pair, acc, acc2);
        }
    }
}
