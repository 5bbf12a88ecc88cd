// chain.glsl: dispatches ordered by counters instead of pipeline barriers
// (the CHAIN variants of the decode kernels; see vkrt's Recorder, which
// fills the counters and the push words).
//
// In a chain, every dispatch waits for the one recorded before it to have
// finished, then counts itself done: workgroup by workgroup, each adds one
// to its dispatch's counter once all its writes are visible on the device.
// A dispatch may then start while its predecessor still runs: its
// workgroups issue the loads that do not depend on the predecessor (the
// weights), and one invocation waits for the predecessor's counter to reach
// its workgroup count before the workgroup reads anything the chain wrote.
// Every buffer a chain kernel shares with other dispatches is coherent
// (ACT), so that no cache keeps a line from before the wait.
//
// A kernel includes this file before its buffers (it defines ACT), and
// chain_sync.glsl after its push-constant block (the waits and signals).
//
// Counters buffer: word 0 holds flags (1: a workgroup found its
// predecessor unfinished and waited; 2: a wait gave up after CHAIN_SPINS
// reads; 4: a counter was past its workgroup count), word 4+i the counter
// of slot i. The including shader defines CHAIN_BINDING (the counters'
// binding) and declares the push words chain_wait (the slot waited for, plus
// one; 0: none), chain_need (its workgroup count) and chain_sig (the slot
// of this dispatch, plus one; 0: none) in its push-constant block p.
#ifndef CHAIN_GLSL
#define CHAIN_GLSL
#ifdef CHAIN
#define ACT coherent
#else
#define ACT
#endif
#endif
