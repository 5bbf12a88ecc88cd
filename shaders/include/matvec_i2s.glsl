// Body of matvec_i2s / matvec_i2s_dot: ternary I2_S weights times int8
// activations for a few tokens (decode), one subgroup per weight row.
//
// Rows are read 16 bytes per load; K (the row length) is a specialization
// constant, so the loop over a row's loads unrolls and every load of a lane
// is in flight at once. A subgroup takes RPS rows (the workgroup ROWS =
// RPS x its subgroups), the loads of all of them issued before the
// activations are ready: with RPS = 2 a matrix of many rows runs in half
// the workgroups, each normalizing its input once for twice the rows.
//
// A lane's 16 bytes are half of a 32-byte I2_S block
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
// By default each lane subtracts the sum of the activations it multiplies
// (a second packed dot product per word) and shifts every group's codes
// down. With ROWSUM the codes stay where they are in the byte, masked
// (group 0 shifted by one, so that every byte stays below 128): group g's
// products come out 32, 16, 4 or 1 times too large, summed in an
// accumulator of their own and divided exactly at the end of the row, and
// the token's code sum (from the quantization) is subtracted once per row:
// half the packed dot products and a quarter of the shifts, the same
// integer sums.
//
// One dispatch covers up to three weights (segments: q, k and v of one
// input), each workgroup inside one segment; with PAIR it covers two
// weights of the same shape (gate and up) row by row and writes
// act(gate) * up; with RESID segment 0's output is also added to a
// residual: ro = r + y.
//
// The int8 activations come either from Q (per token the scale at word 2t,
// the codes from word q_off, K/4 words per token; the code sum at word
// 2t+1 is read with ROWSUM only: otherwise each lane subtracts the sum
// of the activations it multiplies), or, with NORM, from the RMSNorm that precedes the matmul: every
// workgroup normalizes and quantizes the rows of X itself (see
// rmsnorm_row.glsl; the same code in every workgroup, so every workgroup
// gets the same codes) while its weights are on their way, and workgroup 0
// also writes the normalized rows to NY. The norm costs no dispatch and no
// trip through memory.
//
// With ROPE (q, k and v in one dispatch, every row count a multiple of
// ROWS) the outputs are also rotated and stored as the RoPE and KV-store
// ops that follow would (see rope_store.comp: the same table and
// arithmetic): a q or k workgroup takes ROWS/2 rotation pairs, both rows of
// each, rotates them at the token's position once all are done, writes the
// rotated rows, and stores k (and v) at that position in the caches, two
// neighbouring elements per word of an F16 cache.
//
// Shared memory holds the codes group-major (see qidx): the lanes of a
// subgroup, which read consecutive 16-byte loads of a row, read
// consecutive 16-byte activation words, without bank conflicts.
//
// The CHAIN variants wait for the dispatch before them after issuing their
// weight loads (and with NORM the norm weights' loads), and count
// themselves done at the end (see chain.glsl).
#include "numerics.glsl"
#include "chain.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint K = 2560u; // row length, a multiple of 128
layout(constant_id = 2) const uint TMAX = 4u; // tokens (at most 4; the dispatch's count, so T = 1 reduces one sum)
layout(constant_id = 3) const uint ROWS = 8u; // rows per workgroup (RPS per subgroup, if the subgroups are as wide as expected)
layout(constant_id = 4) const uint SG = 32u;  // the expected subgroup size
layout(constant_id = 5) const uint RPS = 1u;  // rows per subgroup (ROWS / (WGS / SG))
layout(constant_id = 6) const uint ROWSUM = 0u; // 1: codes masked in place, the code sum subtracted once per row (see above)
layout(constant_id = 7) const uint SFLAGS = ~0u; // the flags (see p.flags) fixed when the pipeline is built, or ~0u: read from the push constants
const uint WGS = gl_WorkGroupSize.x;
const uint N16 = K / 64u;                     // 16-byte loads per row
const uint NL = (N16 + SG - 1u) / SG;         // loads per lane of a row

layout(set = 0, binding = 0) readonly buffer W0 { uvec4 w0[]; };
layout(set = 0, binding = 1) readonly buffer W1 { uvec4 w1[]; };
layout(set = 0, binding = 2) readonly buffer W2 { uvec4 w2[]; };
layout(set = 0, binding = 3) ACT readonly buffer Q { uvec4 q4[]; };
layout(set = 0, binding = 4) ACT writeonly buffer Y0 { float y0[]; };
layout(set = 0, binding = 5) ACT writeonly buffer Y1 { float y1[]; };
layout(set = 0, binding = 6) ACT writeonly buffer Y2 { float y2[]; };
layout(set = 0, binding = 7) ACT readonly buffer R { float r[]; };
layout(set = 0, binding = 8) ACT writeonly buffer RO { float ro[]; };
layout(set = 0, binding = 9) readonly buffer NW { float nw[]; };
layout(set = 0, binding = 10) ACT writeonly buffer NY { float ny[]; };
layout(set = 0, binding = 11) ACT readonly buffer X { float xin[]; };
layout(set = 0, binding = 12) ACT readonly buffer POS { int pos[]; };
layout(set = 0, binding = 13) readonly buffer TAB { float tab[]; }; // [position][head dim]: cos, sin of each pair
layout(set = 0, binding = 14) ACT writeonly buffer KC { uint kc[]; };
layout(set = 0, binding = 15) ACT writeonly buffer VC { uint vc[]; };
layout(push_constant) uniform P {
    uint t;                      // tokens (<= TMAX)
    uint n0, n1, n2;             // rows of each segment (0: absent)
    float s0, s1, s2;            // weight scales
    uint y0_off, y1_off, y2_off; // element offsets of the outputs
    uint r_off, ro_off;
    uint flags;                  // 1 PAIR, 2 SiLU (else ReLU^2), 4 RESID, 8 PAIR writes gate to Y2, 16 NORM, 32 ROPE, 64 NeoX pairs, 128 F16 caches
    uint q_off;                  // word offset of the codes in Q
    uint x_off;                  // NORM: element offsets of X and NY
    uint ny_off;
    float eps;                   // NORM: the norm's epsilon
    uint pos_off;                // ROPE: element offset of the tokens' positions
    uint hd;                     // ROPE: head dimension (all of it rotated)
#ifdef CHAIN
    uint chain_wait, chain_need, chain_sig;
#endif
} p;
#define CHAIN_BINDING 16
#include "chain_sync.glsl"

// FLAGS is the dispatch's flags: a constant where the pipeline fixes them
// (SFLAGS), so that the compiler drops the paths this dispatch never
// takes and allocates registers for its own alone.
#define FLAGS (SFLAGS != ~0u ? SFLAGS : p.flags)

shared uvec4 qs[TMAX * (K / 16u)]; // codes of token t from t*K/16, in qidx order
shared uint qm[2u * TMAX];         // per token its scale (word 2t) and code sum (word 2t+1, from Q only)
shared float ys[TMAX * ROWS];      // ROPE: the workgroup's outputs, [token][row slot]
const uint PR = ROWS / 2u;         // ROPE: rotation pairs per workgroup

// row_of returns the row that slot rr of workgroup wg computes in segment
// seg: consecutive rows, or with ROPE in q and k, first element (rr < PR)
// or second of pair wg*PR + rr%PR.
uint row_of(uint wg, uint rr, uint seg) {
    if ((FLAGS & 32u) == 0u || seg == 2u) {
        return wg * ROWS + rr;
    }
    uint hh = p.hd / 2u;
    uint pi = wg * PR + rr % PR;
    uint base = (pi / hh) * p.hd, j = pi % hh, second = rr / PR;
    return (FLAGS & 64u) != 0u ? base + j + second * hh : base + 2u * j + second;
}

// qidx returns the place in a token's shared codes of its 16-byte word u
// (u = 8b + 2g + h: block b, group g, half h), which load i = 2b + h of a
// row multiplies in group g: g*N16 + i.
uint qidx(uint u) {
    return ((u >> 1u) & 3u) * N16 + ((u >> 3u) << 1u) + (u & 1u);
}

#include "dot4.glsl"

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

// dots adds, for each token, the ternary dot of the 16 weight bytes wv
// (load i of a row) with the matching activations to acc, and with PAIR
// that of wv2 (load i of the other weight's row) to acc2. By default in
// acc[0]: the code dot minus the activations' sum, so that the subgroup's
// sum of acc[0] is the row's exact ternary dot product. With ROWSUM group
// g's code dot times its factor (32, 16, 4, 1) in acc[g] (see row_dot).
void dots(uvec4 wv, uvec4 wv2, bool pair, uint i, inout ivec4 acc[4], inout ivec4 acc2[4]) {
    [[unroll]] for (uint g = 0u; g < 4u; g++) {
        uvec4 c, c2;
        if (ROWSUM != 0u) {
            uint mask = g == 0u ? 0x60606060u : 0xc0c0c0c0u >> (2u * g);
            c = (g == 0u ? wv >> 1u : wv) & mask;
            c2 = (g == 0u ? wv2 >> 1u : wv2) & mask;
        } else {
            uint sh = 6u - 2u * g;
            c = (wv >> sh) & 0x03030303u;
            c2 = (wv2 >> sh) & 0x03030303u;
        }
        uint a = ROWSUM != 0u ? g : 0u;
        [[unroll]] for (uint tt = 0u; tt < TMAX; tt++) {
            if (tt < p.t) {
                uvec4 qv = qs[tt * (K / 16u) + g * N16 + i];
                int qsum = 0;
                if (ROWSUM == 0u) {
                    qsum = dot4(0x01010101u, qv.x) + dot4(0x01010101u, qv.y) + dot4(0x01010101u, qv.z) + dot4(0x01010101u, qv.w);
                }
                acc[a][tt] += dot4(c.x, qv.x) + dot4(c.y, qv.y) + dot4(c.z, qv.z) + dot4(c.w, qv.w) - qsum;
                if (pair) {
                    acc2[a][tt] += dot4(c2.x, qv.x) + dot4(c2.y, qv.y) + dot4(c2.z, qv.z) + dot4(c2.w, qv.w) - qsum;
                }
            }
        }
    }
}

// row_dot returns the row's ternary dot products (per token) from a lane's
// accumulators of dots, summed over the subgroup: with ROWSUM each group's
// sum divided by its factor (exactly: every product was a multiple of it)
// and the tokens' code sums qsums (see code_sums) subtracted.
ivec4 row_dot(ivec4 acc[4], ivec4 qsums) {
    ivec4 a = acc[0];
    if (ROWSUM != 0u) {
        a = (acc[0] >> 5) + (acc[1] >> 4) + (acc[2] >> 2) + acc[3];
    }
    a = sg_add(a);
    if (ROWSUM != 0u) {
        a -= qsums;
    }
    return a;
}

// Word i of Q.
#define QW(i) q4[(i) >> 2u][(i) & 3u]

float epilogue(int acc, uint tt, float ws) {
    float sx = uintBitsToFloat(qm[2u * tt]);
    precise float v = div_rn(float(acc), sx) * ws;
    return v;
}

void write_row(uint row, uint seg, bool pair, ivec4 acc, ivec4 acc2) {
    for (uint tt = 0u; tt < p.t; tt++) {
        if (pair) {
            float g = epilogue(acc[tt], tt, p.s0);
            float u = epilogue(acc2[tt], tt, p.s1);
            precise float o;
            if ((FLAGS & 2u) == 0u) {
                float rl = max(g, 0.0);
                o = rl * rl * u;
            } else {
                o = div_rn(g, 1.0 + exp(-g)) * u;
            }
            y0[p.y0_off + tt * p.n0 + row] = o;
            y1[p.y1_off + tt * p.n0 + row] = u;
            if ((FLAGS & 8u) != 0u) {
                y2[p.y2_off + tt * p.n0 + row] = g;
            }
        } else if (seg == 0u) {
            float v = epilogue(acc[tt], tt, p.s0);
            y0[p.y0_off + tt * p.n0 + row] = v;
            if ((FLAGS & 4u) != 0u) {
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
#define RMS_NO_QSUM
#define RMS_QSUM_PARTS (ROWSUM != 0u) // see code_sums
#define QP(s) red_i[tt_ * gl_NumSubgroups + (s)]
#ifdef CHAIN
#define RMS_WPRE true // the norm weights' loads go out before the wait
#endif
#include "rmsnorm_row.glsl"





// The 16-byte loads of this lane of the subgroup's rows: row k's load j
// at k*NL + j, of the segment's weight (wa) and with PAIR of W1 (wb).
uvec4 wa[RPS * NL], wb[RPS * NL];

// load_row reads this lane's loads of a row into the registers of the
// subgroup's row k, every load in flight at once.
void load_row(uint row, uint seg, bool pair, uint lane, uint k) {
    uint base = row * N16;
    if (pair || seg == 0u) {
        [[unroll]] for (uint j = 0u; j < NL; j++) {
            wa[k * NL + j] = w0[base + min(lane + j * SG, N16 - 1u)];
        }
    } else if (seg == 1u) {
        [[unroll]] for (uint j = 0u; j < NL; j++) {
            wa[k * NL + j] = w1[base + min(lane + j * SG, N16 - 1u)];
        }
    } else {
        [[unroll]] for (uint j = 0u; j < NL; j++) {
            wa[k * NL + j] = w2[base + min(lane + j * SG, N16 - 1u)];
        }
    }
    if (pair) {
        [[unroll]] for (uint j = 0u; j < NL; j++) {
            wb[k * NL + j] = w1[base + min(lane + j * SG, N16 - 1u)];
        }
    }
}

// finish_row sums a row's lane partials over the subgroup and writes the
// row (with ROPE: keeps it in ys for rope_store).
void finish_row(uint rr, uint row, uint seg, bool pair, bool rope, ivec4 parts[4], ivec4 parts2[4], ivec4 qsums) {
    ivec4 acc = row_dot(parts, qsums), acc2 = ivec4(0);
    if (pair) {
        acc2 = row_dot(parts2, qsums);
    }
    if (subgroupElect()) {
        if (rope) {
            float sc = seg == 0u ? p.s0 : seg == 1u ? p.s1 : p.s2;
            for (uint tt = 0u; tt < p.t; tt++) {
                ys[tt * ROWS + rr] = epilogue(acc[tt], tt, sc);
            }
        } else {
            write_row(row, seg, pair, acc, acc2);
        }
    }
}

// rope_store rotates the workgroup's pairs of q or k rows (in ys) at each
// token's position, writes the workgroup's rows, and stores k and v in
// the caches.
void rope_store(uint wg, uint seg, uint nseg) {
    uint tid = gl_LocalInvocationID.x;
    barrier();
    if (seg < 2u) {
        for (uint i = tid; i < PR * p.t; i += WGS) {
            uint tt = i / PR, k = i % PR;
            uint j = (wg * PR + k) % (p.hd / 2u);
            uint tb = uint(pos[p.pos_off + tt]) * p.hd + 2u * j;
            float c = tab[tb], s = tab[tb + 1u];
            float xa = ys[tt * ROWS + k], xb = ys[tt * ROWS + PR + k];
            precise float ya = xa * c - xb * s;
            precise float yb = xa * s + xb * c;
            ys[tt * ROWS + k] = ya;
            ys[tt * ROWS + PR + k] = yb;
        }
        barrier();
    }
    bool f16 = (FLAGS & 128u) != 0u;
    // The slot holding the next element of an owner slot's row.
    bool adjacent = seg == 2u || (FLAGS & 64u) != 0u;
    for (uint i = tid; i < ROWS * p.t; i += WGS) {
        uint tt = i / ROWS, rr = i % ROWS;
        uint row = row_of(wg, rr, seg);
        float v = ys[i];
        if (seg == 0u) {
            y0[p.y0_off + tt * p.n0 + row] = v;
            continue;
        }
        if (seg == 1u) {
            y1[p.y1_off + tt * p.n1 + row] = v;
        } else {
            y2[p.y2_off + tt * p.n2 + row] = v;
        }
        uint e = uint(pos[p.pos_off + tt]) * nseg + row;
        uint w;
        if (f16) {
            if (adjacent ? (rr & 1u) != 0u : rr >= PR) {
                continue;
            }
            w = f32_to_f16(v) | (f32_to_f16(ys[tt * ROWS + (adjacent ? rr + 1u : rr + PR)]) << 16u);
            e >>= 1u;
        } else {
            w = floatBitsToUint(v);
        }
        if (seg == 1u) {
            kc[e] = w;
        } else {
            vc[e] = w;
        }
    }
}

// block_of returns the workgroup index within its segment (wg), the
// segment and its row count of block v.
void block_of(uint v, out uint wg, out uint seg, out uint nseg) {
    wg = v;
    seg = 0u;
    nseg = p.n0;
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
}

// load_block issues this lane's loads of its subgroup's rows of a block
// (workgroup wg of segment seg, of nseg rows; with subgroups of the
// expected size, row k of subgroup s is slot s + k * WGS / SG: every slot
// of the workgroup once).
void load_block(uint wg, uint seg, uint nseg, bool pair, uint lane) {
    [[unroll]] for (uint k = 0u; k < RPS; k++) {
        uint rr = gl_SubgroupID + k * (WGS / SG);
        uint row = row_of(wg, rr, seg);
        if (row < nseg) {
            load_row(row, seg, pair, lane, k);
        }
    }
}

// code_sums returns, with ROWSUM, the tokens' code sums in every
// invocation: from Q, or with NORM the sum of the subgroups' parts that
// the norm left (QP).
ivec4 code_sums() {
    ivec4 s = ivec4(0);
    if (ROWSUM == 0u) {
        return s;
    }
    [[unroll]] for (uint tt = 0u; tt < TMAX; tt++) {
        if ((FLAGS & 16u) == 0u) {
            s[tt] = int(qm[2u * tt + 1u]);
        } else {
            int v = 0;
            for (uint i = gl_SubgroupInvocationID; i < gl_NumSubgroups; i += gl_SubgroupSize) {
                v += red_i[tt * gl_NumSubgroups + i];
            }
            s[tt] = subgroupAdd(v);
        }
    }
    return s;
}

// run_block computes and writes the rows of a block, from the loads in
// wa and wb when fast, else loading as it goes.
void run_block(uint wg, uint seg, uint nseg, bool pair, bool rope, bool fast, uint lane) {
    ivec4 qsums = code_sums();
    if (fast) {
        [[unroll]] for (uint k = 0u; k < RPS; k++) {
            uint rr = gl_SubgroupID + k * (WGS / SG);
            uint row = row_of(wg, rr, seg);
            if (row >= nseg) {
                break;
            }
            ivec4 acc[4] = ivec4[4](ivec4(0), ivec4(0), ivec4(0), ivec4(0)), acc2[4] = acc;
            [[unroll]] for (uint j = 0u; j < NL; j++) {
                uint i = lane + j * SG;
                if (i < N16) {
                    dots(wa[k * NL + j], wb[k * NL + j], pair, i, acc, acc2);
                }
            }
            finish_row(rr, row, seg, pair, rope, acc, acc2, qsums);
        }
    } else {
        // Subgroups of another size: rows by subgroup, loads as they come.
        for (uint rr = gl_SubgroupID; rr < ROWS; rr += gl_NumSubgroups) {
            uint row = row_of(wg, rr, seg);
            if (row >= nseg) {
                break;
            }
            uint base = row * N16;
            ivec4 acc[4] = ivec4[4](ivec4(0), ivec4(0), ivec4(0), ivec4(0)), acc2[4] = acc;
            if (pair) {
                for (uint i = lane; i < N16; i += gl_SubgroupSize) {
                    dots(w0[base + i], w1[base + i], true, i, acc, acc2);
                }
            } else {
                for (uint i = lane; i < N16; i += gl_SubgroupSize) {
                    uvec4 wv = seg == 0u ? w0[base + i] : seg == 1u ? w1[base + i] : w2[base + i];
                    dots(wv, wv, false, i, acc, acc2);
                }
            }
            finish_row(rr, row, seg, pair, rope, acc, acc2, qsums);
        }
    }
    if (rope) {
        rope_store(wg, seg, nseg);
    }
}

void main() {
    probe(0u);
    uint tid = gl_LocalInvocationID.x;
    uint v = gl_WorkGroupID.x;
    bool pair = (FLAGS & 1u) != 0u;
    // The workgroup's segment and its first row there.
    uint wg, seg, nseg;
    block_of(v, wg, seg, nseg);
    uint lane = gl_SubgroupInvocationID;
    bool fast = gl_SubgroupSize == SG;
    // The subgroup's rows' weights are on their way while the activations
    // are normalized or copied to shared memory.
    bool rope = (FLAGS & 32u) != 0u;
    if (RMS_WPRE && (FLAGS & 16u) != 0u) {
        rms_load_w(K);
    }
    if (fast) {
        load_block(wg, seg, nseg, pair, lane);
    }
    chain_wait();
    if ((FLAGS & 16u) != 0u) {
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
    probe(2u);
    run_block(wg, seg, nseg, pair, rope, fast, lane);
    chain_signal();
}
