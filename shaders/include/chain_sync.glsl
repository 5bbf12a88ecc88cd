// chain_sync.glsl: the waits and signals of a chain (see chain.glsl).
// The including shader defines CHAIN_BINDING and declares the chain's push
// words in its push-constant block p.
#ifdef CHAIN
// volatile: every read of a counter goes to memory (and is coherent).
layout(set = 0, binding = CHAIN_BINDING) volatile buffer CHAINC { uint chain_cnt[]; };

#ifdef PROBE
// The PROBE variants (chained kernels that also time themselves, for
// BITNET_VK_TIMELINE; the including .comp enables
// GL_EXT_shader_realtime_clock)
// record, for each workgroup below PROBE_WG of each chain slot below
// PROBE_SLOTS, the low word of the device clock at four points: 0 when
// the kernel starts, 1 when its wait for the predecessor is over (in
// chain_wait), 2 when its first phase is done (the kernel says where: a
// matvec's norm, attn_split's scores and softmax of its first row; right
// after the wait where there is none), 3 when it has counted itself done (in
// chain_signal). Invocation 0 reads the clock; the words are at
// PROBE_WORD + ((slot * PROBE_WG + workgroup) * 4 + point) of the
// counters buffer (vkrt's Probe* constants).
const uint PROBE_WORD = 4096u;
const uint PROBE_SLOTS = 256u;
const uint PROBE_WG = 256u;

void probe(uint point) {
    uint slot = p.chain_sig - 1u; // none: 0 - 1 wraps past PROBE_SLOTS
    uint wg = gl_WorkGroupID.x + gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    if (gl_LocalInvocationIndex == 0u && slot < PROBE_SLOTS && wg < PROBE_WG) {
        chain_cnt[PROBE_WORD + (slot * PROBE_WG + wg) * 4u + point] = clockRealtime2x32EXT().x;
    }
}
#else
#define probe(point)
#endif

// The most reads of a counter before a wait gives up (flag 2): seconds on
// a GPU, so that a miscounted chain ends with wrong results and a flag
// instead of a hung device.
const uint CHAIN_SPINS = 1u << 24u;

// chain_wait returns once the predecessor has finished; the whole
// workgroup calls it, in uniform control flow.
void chain_wait() {
    if (p.chain_wait == 0u) {
        probe(1u);
        return;
    }
    if (gl_LocalInvocationIndex == 0u) {
        uint slot = 3u + p.chain_wait;
        uint c = chain_cnt[slot];
        // One loop condition and no break: Mesa 22.3's lavapipe dropped
        // the updates made before a break out of such a loop.
        uint spins = 0u;
        while (c < p.chain_need && spins < CHAIN_SPINS) {
            c = chain_cnt[slot];
            spins++;
        }
        uint flags = (spins != 0u ? 1u : 0u) | (c < p.chain_need ? 2u : 0u) | (c > p.chain_need ? 4u : 0u);
        if (flags != 0u) {
            atomicOr(chain_cnt[0], flags);
        }
    }
    barrier();
    memoryBarrierBuffer();
    probe(1u);
}

// chain_signal counts the workgroup done: the whole workgroup calls it
// after its last write, in uniform control flow.
void chain_signal() {
    memoryBarrierBuffer();
    barrier();
    if (gl_LocalInvocationIndex == 0u && p.chain_sig != 0u) {
        atomicAdd(chain_cnt[3u + p.chain_sig], 1u);
    }
    probe(3u);
}
#else
void chain_wait() {}
void chain_signal() {}
#define probe(point)
#endif
