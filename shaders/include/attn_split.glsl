// Body of attn_split / attn_split_merge: causal attention with grouped KV heads, split across
// workgroups (flash decoding). A workgroup takes G query heads that share
// a KV head (all of them, or a part: n_head / n_kv_head / G workgroups per
// KV head), one chunk of CH cache positions and QR query rows (one
// after the other, each key row loaded once for all of them); it
// writes, per row and head, the unnormalized output sum_j exp(s_j - m) v_j, the
// chunk's score maximum m and the sum l of exp(s_j - m), which attn_combine
// merges. Q is rounded to the cache type; each score is a float32 sum in
// dimension order, as the CPU reference computes it. An invocation loads a
// whole key row at once (16-byte loads), and the weighted values are summed
// by groups of keys in parallel. Chunks past a row's position do nothing.
// With SUBGROUP the scores' maximum and sum reduce within subgroups first
// (two barriers in all instead of sixteen). With MERGE the last workgroup
// of each head group and row merges the chunks (see below), and issues its
// cache loads before it knows the row's position (short caches). The
// CHAIN variants wait for the dispatch before them first, and count
// themselves done at the end (see chain.glsl).
//
// Keys: an invocation loads its position's whole key row into registers,
// 16 bytes at a time, so that a subgroup's load touches as many rows as
// it has invocations; with KS > 0 (MERGE, the decode kernel of a short
// cache, and an F16 cache) the workgroup stages the chunk's key rows in
// shared memory instead, KS rows at a time, each subgroup load reading
// whole rows (consecutive 16 bytes per invocation): the first pass's
// before the row's position is known, later ones only as far as
// positions attend. Each invocation then reads its row from there, one
// word per bank (rows padded by a word). The scores are the same sums in
// the same order.
#include "numerics.glsl"
#include "chain.glsl"

layout(local_size_x_id = 0) in;                // CH: one position per invocation
layout(constant_id = 1) const uint HD = 128u;  // head dimension, a multiple of 8
layout(constant_id = 2) const uint G = 4u;     // query heads per workgroup (a divisor of those per KV head)
layout(constant_id = 3) const uint QR = 1u;    // query rows per workgroup (1 with MERGE)
const uint CH = gl_WorkGroupSize.x;
const uint DQ = HD / 4u;                       // dimension quads of a head
const uint KG = CH / DQ;                       // key groups of the value sums
#ifdef MERGE
const bool PRELOAD = true;
#else
const bool PRELOAD = false;
#endif
layout(constant_id = 4) const uint VU = 8u;    // value loads in flight per invocation (a power of two)
layout(constant_id = 5) const uint KS = 0u;    // staged key rows per pass, 0: none (MERGE and F16 caches only; see above)

layout(set = 0, binding = 0) ACT readonly buffer Q { float q[]; };
layout(set = 0, binding = 1) ACT readonly buffer K { uvec4 kc[]; };
layout(set = 0, binding = 2) ACT readonly buffer V { uvec4 vc[]; };
layout(set = 0, binding = 3) ACT readonly buffer POS { int pos[]; };
#ifdef MERGE
layout(set = 0, binding = 4) coherent buffer PART { float part[]; }; // [row][head][chunk][HD + 2]
layout(set = 0, binding = 5) coherent buffer CNT { uint cnt[]; };   // [row][head group]: chunks done (0 between dispatches)
layout(set = 0, binding = 6) ACT writeonly buffer Y { float y[]; };
#define CHAIN_BINDING 7
#else
layout(set = 0, binding = 4) ACT writeonly buffer PART { float part[]; }; // [row][head][chunk][HD + 2]
#define CHAIN_BINDING 5
#endif
layout(push_constant) uniform P {
    uint n_head;
    uint n_kv_head;
    uint q_off;   // element offset of q
    uint pos_off; // element offset of the row positions
    uint f16;     // cache type: 1 F16, 0 F32
    float scale;
    uint nchunks;
    uint nrows;   // query rows of the dispatch
#ifdef MERGE
    uint y_off;   // element offset of the output
#endif
#ifdef CHAIN
    uint chain_wait, chain_need, chain_sig;
#endif
} p;
#include "chain_sync.glsl"

// CHAINED_DECODE: a chained dispatch of one query row (decode), which reads
// the cache rows of the positions before the row's own through the plain
// aliases (see KP).
#ifdef CHAIN
#define CHAINED_DECODE (p.nrows == 1u)
#else
#define CHAINED_DECODE false
#endif

shared float qh[G * HD];
shared float sc[G * CH];   // exp(s - m) of each position
shared float red[G * CH];
shared vec2 red2[G * CH];
shared vec4 osum[KG * G * DQ]; // per key group, head and dimension quad
const uint KSW = HD / 2u + 1u;  // words of a staged F16 key row (padded)
shared uint ks[(KS + 1u) * KSW];   // the staged key rows
const uint KSL = KS * HD / 8u;     // 16-byte loads of a pass
const uint KI = (KSL + CH - 1u) / CH + 1u / (KSL + 1u); // of them per invocation (1 without staging: no empty array)
#ifdef MERGE
shared bool merger;  // this workgroup merges the chunks
shared float suml[G]; // each head's L
const uint OPI = (G * HD + CH - 1u) / CH; // merge: outputs per invocation
const uint MU = OPI < 64u ? 64u / OPI : 1u; // merge: chunks in flight per output
#endif

#ifdef CHAIN
// The caches again, not coherent. In a chain only the rows of the new
// positions are written since the barrier before the chain began (by the
// dispatch before, with RoPE), so a decode row (nrows 1) reads the rows of
// the positions before its own through these, which a first-level cache
// may serve, and only its own coherently (see kv4).
layout(set = 0, binding = 1) readonly buffer KP { uvec4 kcp[]; };
layout(set = 0, binding = 2) readonly buffer VP { uvec4 vcp[]; };
#endif

// kv4 returns elements 4i..4i+3 (element offset e, a multiple of 4) of a
// cache; old says that the row holding them was written before the chain
// began (CHAIN only: see KP).
vec4 kv4(bool isv, uint e, bool old) {
#ifdef CHAIN
    uint i = p.f16 != 0u ? e >> 3u : e >> 2u;
    uvec4 w;
    if (old) {
        w = isv ? vcp[i] : kcp[i];
    } else {
        w = isv ? vc[i] : kc[i];
    }
    if (p.f16 != 0u) {
        uvec2 h = (e & 4u) != 0u ? w.zw : w.xy;
        return vec4(unpackHalf2x16(h.x), unpackHalf2x16(h.y));
    }
    return uintBitsToFloat(w);
#else
    if (p.f16 != 0u) {
        uvec4 w = isv ? vc[e >> 3u] : kc[e >> 3u];
        uvec2 h = (e & 4u) != 0u ? w.zw : w.xy;
        return vec4(unpackHalf2x16(h.x), unpackHalf2x16(h.y));
    }
    return uintBitsToFloat(isv ? vc[e >> 2u] : kc[e >> 2u]);
#endif
}

// key16 returns 16-byte word i of the key cache; old as in kv4.
uvec4 key16(uint i, bool old) {
#ifdef CHAIN
    return old ? kcp[i] : kc[i];
#else
    return kc[i];
#endif
}

// kp holds this invocation's loads of a pass of staged key rows.
uvec4 kp[KI];

// stage_load loads this invocation's share of the pass of staged key rows
// from position jb (KS rows) into kp, positions past jl - 1 clamped to
// it; rows before position fresh are old (see kv4).
void stage_load(uint jb, uint jl, uint kvb, uint kvdim, uint fresh) {
    const uint lr = HD / 8u; // loads per row
    [[unroll]] for (uint k = 0u; k < KI; k++) {
        uint it = min(gl_LocalInvocationID.x + k * CH, KSL - 1u);
        uint j = min(jb + it / lr, jl - 1u);
        uint e = j * kvdim + kvb;
        kp[k] = key16((e >> 3u) + it % lr, CHAINED_DECODE && j < fresh);
    }
}

// stage_store writes the loads of stage_load to the staged rows.
void stage_store() {
    const uint lr = HD / 8u;
    [[unroll]] for (uint k = 0u; k < KI; k++) {
        uint it = gl_LocalInvocationID.x + k * CH;
        if (it < KSL) {
            uint b = (it / lr) * KSW + 4u * (it % lr);
            ks[b] = kp[k].x;
            ks[b + 1u] = kp[k].y;
            ks[b + 2u] = kp[k].z;
            ks[b + 3u] = kp[k].w;
        }
    }
}

void main() {
    probe(0u);
    uint g = gl_WorkGroupID.x;                    // query heads g*G .. g*G+G-1
    uint kvh = g * G / (p.n_head / p.n_kv_head);  // their KV head
    uint c = gl_WorkGroupID.y;
    uint row0 = gl_WorkGroupID.z * QR;
    uint tid = gl_LocalInvocationID.x;
    uint j0 = c * CH;
    uint qk = p.n_head * HD;
    uint kvdim = p.n_kv_head * HD;
    uint dq = tid % DQ, kg = tid / DQ;
    vec4 kr[DQ];
    vec4 vpre[VU];
    chain_wait();
    if (PRELOAD) {
        // A short cache (a few chunks, most of them in use): before the
        // row's position is known, a load the cache reads would otherwise
        // wait for, the key row of position j0+tid (staged: its share of
        // the first pass's rows) and the first values this invocation
        // sums (see below), clamped to the cache;
        // positions past the row's are masked out below. (Over a long
        // cache most chunks of a shallow row are idle, and their loads
        // would only take bandwidth: 384 against 404 tokens/s at a
        // 4096-position cache on an H200.)
        uint crows = uint(kc.length()) * (p.f16 != 0u ? 8u : 4u) / kvdim;
        uint kb = min(j0 + tid, crows - 1u) * kvdim + kvh * HD;
        if (KS == 0u) {
            [[unroll]] for (uint d4 = 0u; d4 < DQ; d4++) {
                kr[d4] = kv4(false, kb + 4u * d4, CHAINED_DECODE);
            }
        } else {
            stage_load(j0, crows, kvh * HD, kvdim, 0xffffffffu);
        }
        [[unroll]] for (uint u = 0u; u < VU; u++) {
            uint jr = min(j0 + kg + u * KG, crows - 1u);
            vpre[u] = kv4(true, jr * kvdim + kvh * HD + 4u * dq, CHAINED_DECODE);
        }
#ifdef CHAIN
        if (CHAINED_DECODE) {
            // The loads above took every row as old: the row's own (and
            // any past it, which are masked out) again, coherently.
            uint fresh = uint(pos[p.pos_off]);
            if (KS != 0u) {
                stage_load(j0, crows, kvh * HD, kvdim, fresh);
            } else if (min(j0 + tid, crows - 1u) >= fresh) {
                [[unroll]] for (uint d4 = 0u; d4 < DQ; d4++) {
                    kr[d4] = kv4(false, kb + 4u * d4, false);
                }
            }
            [[unroll]] for (uint u = 0u; u < VU; u++) {
                uint jr = min(j0 + kg + u * KG, crows - 1u);
                if (jr >= fresh) {
                    vpre[u] = kv4(true, jr * kvdim + kvh * HD + 4u * dq, false);
                }
            }
        }
#endif
    }
    if (!PRELOAD) {
        // The key row of position j0+tid, for every row of the workgroup
        // that attends to it: on its way while the first row's queries are
        // loaded and copied to shared memory.
        uint nmax = 0u;
        for (uint r = 0u; r < QR; r++) {
            if (row0 + r < p.nrows) {
                nmax = max(nmax, uint(pos[p.pos_off + row0 + r]) + 1u);
            }
        }
        if (j0 >= nmax) {
            probe(2u);
            chain_signal();
            return;
        }
        uint kb = (j0 + min(tid, min(CH, nmax - j0) - 1u)) * kvdim + kvh * HD;
        // Old: before nmax - 1, the row's own position.
        bool kold = CHAINED_DECODE && j0 + min(tid, min(CH, nmax - j0) - 1u) + 1u < nmax;
        [[unroll]] for (uint d4 = 0u; d4 < DQ; d4++) {
            kr[d4] = kv4(false, kb + 4u * d4, kold);
        }
    }
    // The rows one after the other, over the same keys (a row's shared
    // memory is reused by the next only past barriers that every
    // invocation reaches after its last use).
    for (uint r = 0u; r < QR; r++) {
        uint row = row0 + r;
        if (row >= p.nrows) {
            break;
        }
        // The queries do not depend on the row's position: their loads go out
        // with the position's.
        const uint QPER = (G * HD + CH - 1u) / CH;
        float qv[QPER];
        [[unroll]] for (uint j = 0u; j < QPER; j++) {
            uint i = min(tid + j * CH, G * HD - 1u);
            qv[j] = q[p.q_off + row * qk + (g * G + i / HD) * HD + i % HD];
        }
        uint n = uint(pos[p.pos_off + row]) + 1u; // positions 0..pos attend
        if (j0 >= n) {
            if (r == 0u) {
                probe(2u);
            }
            continue;
        }
        uint nj = min(CH, n - j0);
        [[unroll]] for (uint j = 0u; j < QPER; j++) {
            uint i = tid + j * CH;
            if (i < G * HD) {
                qh[i] = p.f16 != 0u ? round_f16(qv[j]) : qv[j];
            }
        }
        barrier();
        // Scores of position j0+tid for the G heads.
        float s[G];
        [[unroll]] for (uint h = 0u; h < G; h++) {
            s[h] = uintBitsToFloat(0xff800000u); // -inf
        }
        if (KS == 0u && tid < nj) {
            [[unroll]] for (uint h = 0u; h < G; h++) {
                precise float acc = 0.0;
                [[unroll]] for (uint d4 = 0u; d4 < DQ; d4++) {
                    [[unroll]] for (uint e = 0u; e < 4u; e++) {
                        precise float a = qh[h * HD + 4u * d4 + e] * kr[d4][e];
                        acc = acc + a;
                    }
                }
                precise float ss = acc * p.scale;
                s[h] = ss;
            }
        }
        // Staged keys: the passes over the chunk's nj rows, the first
        // one's loads issued above (PRELOAD).
        for (uint p0 = 0u; KS != 0u && p0 < nj; p0 += KS) {
            if (p0 != 0u) {
                stage_load(j0 + p0, j0 + nj, kvh * HD, kvdim, n - 1u);
            }
            stage_store();
            barrier();
            if (tid >= p0 && tid < min(p0 + KS, nj)) {
                uint kb = (tid - p0) * KSW;
                [[unroll]] for (uint h = 0u; h < G; h++) {
                    precise float acc = 0.0;
                    [[unroll]] for (uint d = 0u; d < HD / 2u; d++) {
                        vec2 k = unpackHalf2x16(ks[kb + d]);
                        precise float a0 = qh[h * HD + 2u * d] * k.x;
                        acc = acc + a0;
                        precise float a1 = qh[h * HD + 2u * d + 1u] * k.y;
                        acc = acc + a1;
                    }
                    precise float ss = acc * p.scale;
                    s[h] = ss;
                }
            }
            barrier();
        }
        // Each head's score maximum mh and two-float sum lh of exp(s - mh).
        float mh[G];
        vec2 lh[G];
#ifdef SUBGROUP
        // Within subgroups, then over their partials: a barrier each.
        [[unroll]] for (uint h = 0u; h < G; h++) {
            float m = subgroupMax(s[h]);
            if (subgroupElect()) {
                red[h * CH + gl_SubgroupID] = m;
            }
        }
        barrier();
        [[unroll]] for (uint h = 0u; h < G; h++) {
            mh[h] = red[h * CH];
            for (uint i = 1u; i < gl_NumSubgroups; i++) {
                mh[h] = max(mh[h], red[h * CH + i]);
            }
            float e = tid < nj ? exp(s[h] - mh[h]) : 0.0;
            sc[h * CH + tid] = e;
            vec2 v = vec2(e, 0.0);
            for (uint m = 1u; m < gl_SubgroupSize; m <<= 1u) {
                v = df_add(v, subgroupShuffleXor(v, m));
            }
            if (subgroupElect()) {
                red2[h * CH + gl_SubgroupID] = v;
            }
        }
        barrier();
        [[unroll]] for (uint h = 0u; h < G; h++) {
            lh[h] = red2[h * CH];
            for (uint i = 1u; i < gl_NumSubgroups; i++) {
                lh[h] = df_add(lh[h], red2[h * CH + i]);
            }
        }
#else
        // Trees in shared memory.
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
            mh[h] = red[h * CH];
            float e = tid < nj ? exp(s[h] - mh[h]) : 0.0;
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
        [[unroll]] for (uint h = 0u; h < G; h++) {
            lh[h] = red2[h * CH];
        }
#endif
        if (r == 0u) {
            probe(2u); // the first row's scores and softmax are done
        }
        // Weighted values: invocation tid sums dimension quad tid % DQ over
        // the keys of group tid / DQ (every KG-th key), VU loads in flight.
        uint vb = j0 * kvdim + kvh * HD + 4u * dq;
        vec4 acc[G];
        [[unroll]] for (uint h = 0u; h < G; h++) {
            acc[h] = vec4(0.0);
        }
        for (uint j = kg; j < nj && kg < KG; j += VU * KG) {
            vec4 vv[VU];
            [[unroll]] for (uint u = 0u; u < VU; u++) {
                uint jj = j + u * KG;
                vec4 v = PRELOAD && j == kg ? vpre[u] : kv4(true, vb + min(jj, nj - 1u) * kvdim, CHAINED_DECODE && j0 + min(jj, nj - 1u) + 1u < n);
                vv[u] = jj < nj ? v : vec4(0.0);
            }
            [[unroll]] for (uint u = 0u; u < VU; u++) {
                uint jj = min(j + u * KG, CH - 1u);
                [[unroll]] for (uint h = 0u; h < G; h++) {
                    float pj = j + u * KG < nj ? sc[h * CH + jj] : 0.0;
                    acc[h] += pj * vv[u];
                }
            }
        }
        if (kg < KG) {
            [[unroll]] for (uint h = 0u; h < G; h++) {
                osum[(kg * G + h) * DQ + dq] = acc[h];
            }
        }
        barrier();
        // Each head's output over this chunk, o = sum_j exp(s_j - m) v_j, goes
        // to the partials. With MERGE, a row whose positions all fall in this
        // chunk (a row at one of the cache's first CH positions) is the only
        // workgroup of its KV head at work: it writes y = o / l itself, what
        // the merge below computes for one chunk (whose factor is exp(0) = 1),
        // without the partials, the counter and the merge's loads.
#ifdef MERGE
        uint nc = (n + CH - 1u) / CH;
        bool single = nc == 1u;
#else
        const bool single = false;
#endif
        for (uint i = tid; i < G * DQ; i += CH) {
            uint h = i / DQ, d = i % DQ;
            vec4 o = vec4(0.0);
            for (uint k = 0u; k < KG; k++) {
                o += osum[(k * G + h) * DQ + d];
            }
#ifdef MERGE
            if (single) {
                float l = lh[h].x + lh[h].y;
                uint yb = p.y_off + (row * p.n_head + g * G + h) * HD + 4u * d;
                y[yb] = o.x / l;
                y[yb + 1u] = o.y / l;
                y[yb + 2u] = o.z / l;
                y[yb + 3u] = o.w / l;
                continue;
            }
#endif
            uint base = ((row * p.n_head + g * G + h) * p.nchunks + c) * (HD + 2u);
            part[base + 4u * d] = o.x;
            part[base + 4u * d + 1u] = o.y;
            part[base + 4u * d + 2u] = o.z;
            part[base + 4u * d + 3u] = o.w;
        }
        if (single) {
            chain_signal();
            return;
        }
        [[unroll]] for (uint h = 0u; h < G; h++) {
            if (tid == h) {
                uint base = ((row * p.n_head + g * G + h) * p.nchunks + c) * (HD + 2u);
                part[base + HD] = mh[h];
                part[base + HD + 1u] = lh[h].x + lh[h].y;
            }
        }
#ifdef MERGE
        // The last workgroup of this head group and row to finish merges the
        // chunks of its G heads as attn_combine does: with M = max_c m_c,
        // L = sum_c l_c exp(m_c - M) and y = sum_c o_c exp(m_c - M) / L, both
        // sums in chunk order. The others' partials are visible once the
        // counter says they are all written: each workgroup's writes are made
        // visible on the device before it counts itself done.
        memoryBarrierBuffer();
        barrier();
        uint ci = row * (p.n_head / G) + g;
        if (tid == 0u) {
            bool last = atomicAdd(cnt[ci], 1u) == nc - 1u;
            if (last) {
                cnt[ci] = 0u; // ready for the next dispatch
            }
            merger = last;
        }
        barrier();
        if (!merger) {
            chain_signal();
            return;
        }
        memoryBarrierBuffer();
        // sc: each chunk's m, then its factor exp(m - M); red: each chunk's l
        // (nc <= CH: the host merges longer caches with attn_combine). Every
        // load of an invocation is issued at once.
        [[unroll]] for (uint k = 0u; k < G; k++) {
            uint i = tid + k * CH;
            if (i < G * nc) {
                uint h = i / nc, cc = i % nc;
                uint b = ((row * p.n_head + g * G + h) * p.nchunks + cc) * (HD + 2u);
                sc[h * CH + cc] = part[b + HD];
                red[h * CH + cc] = part[b + HD + 1u];
            }
        }
        barrier();
        if (tid < G) {
            float mx = uintBitsToFloat(0xff800000u);
            for (uint cc = 0u; cc < nc; cc++) {
                mx = max(mx, sc[tid * CH + cc]);
            }
            precise float l = 0.0;
            for (uint cc = 0u; cc < nc; cc++) {
                float f = exp(sc[tid * CH + cc] - mx);
                sc[tid * CH + cc] = f;
                precise float t = red[tid * CH + cc] * f;
                l = l + t;
            }
            suml[tid] = l;
        }
        barrier();
        // Invocation tid computes outputs tid, tid + CH, ... (OPI of them), the
        // partials of MU chunks of every one in flight at once, each sum in
        // chunk order.
        precise float o[OPI];
        [[unroll]] for (uint k = 0u; k < OPI; k++) {
            o[k] = 0.0;
        }
        for (uint c0 = 0u; c0 < nc; c0 += MU) {
            float pv[OPI * MU];
            [[unroll]] for (uint k = 0u; k < OPI; k++) {
                uint i = min(tid + k * CH, G * HD - 1u);
                uint b0 = (row * p.n_head + g * G + i / HD) * p.nchunks * (HD + 2u) + i % HD;
                [[unroll]] for (uint u = 0u; u < MU; u++) {
                    pv[k * MU + u] = c0 + u < nc ? part[b0 + (c0 + u) * (HD + 2u)] : 0.0;
                }
            }
            [[unroll]] for (uint k = 0u; k < OPI; k++) {
                uint h = min(tid + k * CH, G * HD - 1u) / HD;
                [[unroll]] for (uint u = 0u; u < MU; u++) {
                    if (c0 + u < nc) {
                        precise float t = pv[k * MU + u] * sc[h * CH + c0 + u];
                        o[k] = o[k] + t;
                    }
                }
            }
        }
        [[unroll]] for (uint k = 0u; k < OPI; k++) {
            uint i = tid + k * CH;
            if (i < G * HD) {
                uint h = i / HD, d = i % HD;
                y[p.y_off + (row * p.n_head + g * G + h) * HD + d] = o[k] / suml[h];
            }
        }
#endif
    }
    chain_signal();
}
