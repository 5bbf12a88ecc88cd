#version 450
// topk: the k best of n candidates, best first (larger logit, then smaller
// id), in passes: each workgroup sorts up to 2048 candidates in shared
// memory (bitonic) and keeps its k best. The first pass reads logits; the
// next ones merge 2048/k lists of the previous pass; the last writes the
// ids and the logits' bits to dst. Logits become unsigned keys that sort
// as the floats do (NaN lowest).
layout(local_size_x = 256) in;
const uint N = 2048u;

layout(set = 0, binding = 0) readonly buffer L { float l[]; };
layout(set = 0, binding = 1) readonly buffer CI { uint cid[]; };
layout(set = 0, binding = 2) readonly buffer CK { uint ckey[]; };
layout(set = 0, binding = 3) writeonly buffer OI { uint oid[]; };
layout(set = 0, binding = 4) writeonly buffer OK { uint okey[]; };
layout(set = 0, binding = 5) writeonly buffer DST { uint dst[]; };
layout(push_constant) uniform P {
    uint n;      // candidates of this pass
    uint k;
    uint first;  // 1: candidates are the logits
    uint last;   // 1: write dst
    uint l_off;
    uint dst_off;
} p;

shared uint skey[N];
shared uint sid[N];

uint key_of(float f) {
    if (isnan(f)) {
        return 0u;
    }
    uint b = floatBitsToUint(f);
    return (b & 0x80000000u) != 0u ? ~b : b | 0x80000000u;
}

float float_of(uint key) {
    return uintBitsToFloat((key & 0x80000000u) != 0u ? key & 0x7fffffffu : ~key);
}

bool better(uint ka, uint ia, uint kb, uint ib) {
    return ka > kb || (ka == kb && ia < ib);
}

void main() {
    uint tid = gl_LocalInvocationID.x;
    uint wg = gl_WorkGroupID.x;
    // The candidates of this workgroup: 2048 logits, or whole lists of k.
    uint per = p.first != 0u ? N : (N / p.k) * p.k;
    uint start = wg * per;
    for (uint i = tid; i < N; i += 256u) {
        uint j = start + i;
        if (i < per && j < p.n) {
            if (p.first != 0u) {
                skey[i] = key_of(l[p.l_off + j]);
                sid[i] = j;
            } else {
                skey[i] = ckey[j];
                sid[i] = cid[j];
            }
        } else {
            skey[i] = 0u;
            sid[i] = 0xffffffffu;
        }
    }
    barrier();
    if (p.k == 1u) {
        // The best alone: a tree reduction instead of a sort.
        for (uint st = N / 2u; st > 0u; st >>= 1u) {
            for (uint i = tid; i < st; i += 256u) {
                if (better(skey[i + st], sid[i + st], skey[i], sid[i])) {
                    skey[i] = skey[i + st];
                    sid[i] = sid[i + st];
                }
            }
            barrier();
        }
    } else {
        for (uint size = 2u; size <= N; size <<= 1u) {
            for (uint stride = size / 2u; stride > 0u; stride >>= 1u) {
                for (uint i = tid; i < N / 2u; i += 256u) {
                    uint lo = 2u * stride * (i / stride) + (i % stride);
                    uint hi = lo + stride;
                    bool first = (lo & size) == 0u; // this half sorts best first
                    bool swap = better(skey[hi], sid[hi], skey[lo], sid[lo]);
                    if (!first) {
                        swap = better(skey[lo], sid[lo], skey[hi], sid[hi]);
                    }
                    if (swap) {
                        uint tk = skey[lo], ti = sid[lo];
                        skey[lo] = skey[hi];
                        sid[lo] = sid[hi];
                        skey[hi] = tk;
                        sid[hi] = ti;
                    }
                }
                barrier();
            }
        }
    }
    for (uint i = tid; i < p.k; i += 256u) {
        if (p.last != 0u) {
            dst[p.dst_off + i] = sid[i];
            dst[p.dst_off + p.k + i] = floatBitsToUint(float_of(skey[i]));
        } else {
            oid[wg * p.k + i] = sid[i];
            okey[wg * p.k + i] = skey[i];
        }
    }
}
