// chain_sync.glsl: the waits and signals of a chain (see chain.glsl).
// The including shader defines CHAIN_BINDING and declares the chain's push
// words in its push-constant block p.
#ifdef CHAIN
// volatile: every read of a counter goes to memory (and is coherent).
layout(set = 0, binding = CHAIN_BINDING) volatile buffer CHAINC { uint chain_cnt[]; };

// The most reads of a counter before a wait gives up (flag 2): seconds on
// a GPU, so that a miscounted chain ends with wrong results and a flag
// instead of a hung device.
const uint CHAIN_SPINS = 1u << 24u;

// chain_wait returns once the predecessor has finished; the whole
// workgroup calls it, in uniform control flow.
void chain_wait() {
    if (p.chain_wait == 0u) {
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
}

// chain_signal counts the workgroup done: the whole workgroup calls it
// after its last write, in uniform control flow.
void chain_signal() {
    memoryBarrierBuffer();
    barrier();
    if (gl_LocalInvocationIndex == 0u && p.chain_sig != 0u) {
        atomicAdd(chain_cnt[3u + p.chain_sig], 1u);
    }
}
#else
void chain_wait() {}
void chain_signal() {}
#endif
