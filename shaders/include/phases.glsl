// Body of phases / phases_dot: a calibration of dependent phases for
// bench --op-times (see vkrt's PhaseChain). The phases are the matvecs of
// decode layers, four per layer (LAYER shapes, cycled), each one reading
// the output of the one before, as a decode step's matvecs do: the
// question is what a phase boundary costs when the phases run as
// dispatches behind barriers, and when they run inside one persistent
// dispatch.
//
// Phase p multiplies the first k[p % 4] outputs of phase p-1 (phase 0: the
// input) by a matrix of n[p % 4] rows of 2-bit codes, stored as a decode
// matvec's weights are: each row k/64 16-byte words, the layers' matrices
// one after the other. Element e = 64i + 16g + 4c + b of a row is bits
// 2g+1:2g of byte b of word c of the row's word i; the weight is the code
// minus 1 (-1, 0, 1 or 2). The activation of element e is the low 7 bits
// of output e of the phase before, so that every sum is exact in int32
// and its result the output, as an int32's bits. The outputs of phase p
// go to half (p + 1) % 2 of A, its inputs come from half p % 2.
//
// A workgroup computes a block of ROWS consecutive rows, one per
// subgroup (more, where the subgroups are wider than SG): it issues its
// rows' weight loads (at most NL per lane, all in flight at once), then
// copies the input into shared memory as int8 codes, four to a word, and
// sums the dot products, 4 codes at a time (dot4), over the subgroup.
//
// With persist = 0 a dispatch runs phase p0, one workgroup per block, and
// a pipeline barrier separates it from the next. With persist = 1 one
// dispatch runs every phase: its workgroups take blocks in phase order
// from a ticket counter (C word 1), issue the block's weight loads, and
// wait for the phase before to be done (C word 2 + p counts the blocks of
// phase p done) before they read its outputs. A ticket is only taken by a
// workgroup that runs, and a block waits only for blocks of earlier
// tickets, so the workgroup holding the earliest unfinished ticket never
// waits: the dispatch finishes on any device that runs its started
// workgroups, however many it runs at once. A wait gives up after SPINS
// reads and raises flag 2 in C word 0 (the results are then wrong), so
// that a device that does not run them ends the calibration with an
// error instead of a hung queue.
#include "dot4.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint SG = 32u;   // the subgroup size the kernel is built for
layout(constant_id = 2) const uint NL = 4u;    // 16-byte loads per lane of a row, at most (rows of up to 64 x NL x SG elements)
layout(constant_id = 3) const uint KMAX = 6912u; // the longest row, a multiple of 64
layout(constant_id = 4) const uint SPINS = 1u << 18u; // the most counter reads of a wait
const uint WGS = gl_WorkGroupSize.x;
const uint ROWS = WGS / SG;                    // rows per block

layout(set = 0, binding = 0) readonly buffer W { uvec4 w[]; };
layout(set = 0, binding = 1) buffer A { uint a[]; };
// The inputs: outputs of the phase before, written by other workgroups of
// the same dispatch when persistent (read coherently then).
layout(set = 0, binding = 1) readonly buffer AP { uvec4 ap[]; };
layout(set = 0, binding = 1) coherent readonly buffer AC { uvec4 ac[]; };
layout(set = 0, binding = 2) volatile buffer C { uint cnt[]; }; // 0 flags, 1 ticket, 2 + p blocks of phase p done
layout(push_constant) uniform P {
    uvec4 n;      // rows of a layer's four matvecs
    uvec4 k;      // their row lengths: multiples of 64, at most KMAX and the rows of the matvec before
    uint phases;  // phases in all, four per layer
    uint p0;      // the dispatch's phase (persist = 0)
    uint persist; // 1: one dispatch takes every phase's blocks by ticket
    uint half_;   // words per half of A (a multiple of 4)
} p;

shared uvec4 xs[KMAX / 16u]; // the codes, group-major: word c of group g of load i at g * (k/64) + i
shared uint sticket;

// blocks returns the blocks of a phase of shape s.
uint blocks(uint s) {
    return (p.n[s] + ROWS - 1u) / ROWS;
}

// words returns the 16-byte words of a matrix of shape s.
uint words(uint s) {
    return p.n[s] * (p.k[s] / 64u);
}

// locate returns the phase and block of ticket t.
void locate(uint t, out uint ph, out uint b) {
    uint per = blocks(0u) + blocks(1u) + blocks(2u) + blocks(3u);
    ph = 4u * (t / per);
    b = t % per;
    for (uint s = 0u; s < 3u && b >= blocks(s); s++) {
        b -= blocks(s);
        ph++;
    }
}

// dots returns the dot product of load i of a row (v) with the codes in xs.
int dots(uvec4 v, uint i, uint n16) {
    int acc = 0;
    [[unroll]] for (uint g = 0u; g < 4u; g++) {
        uvec4 c = (v >> (2u * g)) & 0x03030303u;
        uvec4 x = xs[g * n16 + i];
        acc += dot4(c.x, x.x) + dot4(c.y, x.y) + dot4(c.z, x.z) + dot4(c.w, x.w);
        acc -= dot4(0x01010101u, x.x) + dot4(0x01010101u, x.y) + dot4(0x01010101u, x.z) + dot4(0x01010101u, x.w);
    }
    return acc;
}

// wait returns once phase ph's blocks are all done (invocation 0 reads the
// counter; the whole workgroup calls it).
void wait(uint ph) {
    if (gl_LocalInvocationIndex == 0u) {
        uint need = blocks(ph % 4u);
        // Atomic reads, 64 to a loop iteration (unrolled: Mesa's lavapipe
        // ends a shader's loops after 65,535 iterations in all, and its
        // waits may last long, its workgroups being threads that share the
        // host's cores); once the count is complete the rest are skipped.
        // One loop condition and no break (see chain_sync.glsl).
        uint c = atomicOr(cnt[2u + ph], 0u);
        uint spins = 0u;
        while (c < need && spins < SPINS) {
            [[unroll]] for (uint u = 0u; u < 64u; u++) {
                if (c < need) {
                    c = atomicOr(cnt[2u + ph], 0u);
                    spins++;
                }
            }
        }
        uint flags = (spins != 0u ? 1u : 0u) | (c < need ? 2u : 0u) | (c > need ? 4u : 0u);
        if (flags != 0u) {
            atomicOr(cnt[0], flags);
        }
    }
    barrier();
    memoryBarrierBuffer();
}

// run computes block b of phase ph.
void run(uint ph, uint b) {
    uint s = ph % 4u;
    uint n = p.n[s], k = p.k[s], n16 = k / 64u;
    uint woff = (ph / 4u) * (words(0u) + words(1u) + words(2u) + words(3u));
    for (uint j = 0u; j < s; j++) {
        woff += words(j);
    }
    uint lane = gl_SubgroupInvocationID, ss = gl_SubgroupSize;
    // The first row of the subgroup: its loads go out now.
    uint row0 = b * ROWS + gl_SubgroupID;
    uint base0 = woff + min(row0, n - 1u) * n16;
    uvec4 wv[NL];
    [[unroll]] for (uint j = 0u; j < NL; j++) {
        wv[j] = w[base0 + min(lane + j * ss, n16 - 1u)];
    }
    if (p.persist != 0u && ph > 0u) {
        wait(ph - 1u);
    }
    // The input, as codes (the low 7 bits of each output).
    uint src = (ph & 1u) * (p.half_ / 4u);
    for (uint m = gl_LocalInvocationIndex; m < k / 4u; m += WGS) {
        uvec4 q = p.persist != 0u ? ac[src + m] : ap[src + m];
        q &= 0x7fu;
        uint word = q.x | (q.y << 8u) | (q.z << 16u) | (q.w << 24u);
        uint i = m >> 4u, g = (m >> 2u) & 3u;
        xs[g * n16 + i][m & 3u] = word;
    }
    barrier();
    uint dst = ((ph + 1u) & 1u) * p.half_;
    for (uint r = gl_SubgroupID; r < ROWS; r += gl_NumSubgroups) {
        uint row = b * ROWS + r;
        if (row >= n) {
            break;
        }
        uint base = woff + row * n16;
        int acc = 0;
        uint i0 = lane; // the first load not in registers
        if (r == gl_SubgroupID) {
            [[unroll]] for (uint j = 0u; j < NL; j++) {
                uint i = lane + j * ss;
                if (i < n16) {
                    acc += dots(wv[j], i, n16);
                }
            }
            i0 += NL * ss;
        }
        for (uint i = i0; i < n16; i += ss) {
            acc += dots(w[base + i], i, n16);
        }
        acc = subgroupAdd(acc);
        if (subgroupElect()) {
            a[dst + row] = uint(acc);
        }
    }
    memoryBarrierBuffer();
    barrier();
    if (p.persist != 0u && gl_LocalInvocationIndex == 0u) {
        atomicAdd(cnt[2u + ph], 1u);
    }
}

void main() {
    if (p.persist == 0u) {
        run(p.p0, gl_WorkGroupID.x);
        return;
    }
    uint total = (p.phases / 4u) * (blocks(0u) + blocks(1u) + blocks(2u) + blocks(3u));
    for (;;) {
        if (gl_LocalInvocationIndex == 0u) {
            sticket = atomicAdd(cnt[1], 1u);
        }
        barrier();
        uint t = sticket;
        barrier();
        if (t >= total) {
            return;
        }
        uint ph, b;
        locate(t, ph, b);
        run(ph, b);
    }
}
