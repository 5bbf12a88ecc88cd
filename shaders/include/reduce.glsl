// Workgroup reductions: every invocation of the WGS calls them. The _one
// variants leave the result in subgroup 0 (without SUBGROUP: in every
// invocation), for scalar work that wg_one's invocation does once and
// shares with wg_share instead of every subgroup repeating it; wg_sum_i
// gives every invocation its result. With SUBGROUP they reduce within
// subgroups first (a shuffle butterfly for the two-float sums) and combine
// one value per subgroup; otherwise they run a tree in shared memory.
#ifndef REDUCE_GLSL
#define REDUCE_GLSL

#ifdef SUBGROUP
shared vec2 red_v[WGS + 1u];
shared float red_f[WGS + 1u];
shared int red_i[WGS + 1u];

vec2 df_sg(vec2 v) {
    for (uint m = 1u; m < gl_SubgroupSize; m <<= 1u) {
        v = df_add(v, subgroupShuffleXor(v, m));
    }
    return v;
}

// wg_one reports whether this is the one invocation that does a
// workgroup's scalar work once (after wg_sum_df_one or wg_max_one) and
// shares its result with wg_share.
bool wg_one() {
    return gl_SubgroupID == 0u && subgroupElect();
}

// wg_sum_df_one returns the two-float sum of v over the workgroup in
// subgroup 0 (the others get partial sums): one barrier, for a result
// that wg_one's invocation turns into a scalar for everyone.
vec2 wg_sum_df_one(vec2 v) {
    v = df_sg(v);
    if (subgroupElect()) {
        red_v[gl_SubgroupID] = v;
    }
    barrier();
    if (gl_SubgroupID == 0u) {
        vec2 r = vec2(0.0);
        for (uint i = gl_SubgroupInvocationID; i < gl_NumSubgroups; i += gl_SubgroupSize) {
            r = df_add(r, red_v[i]);
        }
        v = df_sg(r);
    }
    return v;
}

// wg_max_one returns the maximum of v over the workgroup in subgroup 0 (the
// others get partial maxima): one barrier, as wg_sum_df_one.
float wg_max_one(float v) {
    v = subgroupMax(v);
    if (subgroupElect()) {
        red_f[gl_SubgroupID] = v;
    }
    barrier();
    if (gl_SubgroupID == 0u) {
        float r = uintBitsToFloat(0xff800000u);
        for (uint i = gl_SubgroupInvocationID; i < gl_NumSubgroups; i += gl_SubgroupSize) {
            r = max(r, red_f[i]);
        }
        v = subgroupMax(r);
    }
    return v;
}

int wg_sum_i(int v) {
    v = subgroupAdd(v);
    if (subgroupElect()) {
        red_i[gl_SubgroupID] = v;
    }
    barrier();
    if (gl_SubgroupID == 0u) {
        int r = 0;
        for (uint i = gl_SubgroupInvocationID; i < gl_NumSubgroups; i += gl_SubgroupSize) {
            r += red_i[i];
        }
        r = subgroupAdd(r);
        if (subgroupElect()) {
            red_i[WGS] = r;
        }
    }
    barrier();
    int out_ = red_i[WGS];
    barrier();
    return out_;
}
#else
shared vec2 red_v[WGS];
shared float red_f[WGS + 1u];
shared int red_i[WGS];

bool wg_one() {
    return gl_LocalInvocationIndex == 0u;
}

// Without subgroups, wg_sum_df_one and wg_max_one give every invocation
// the result.
vec2 wg_sum_df_one(vec2 v) {
    uint tid = gl_LocalInvocationID.x;
    red_v[tid] = v;
    barrier();
    for (uint s = WGS / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            red_v[tid] = df_add(red_v[tid], red_v[tid + s]);
        }
        barrier();
    }
    vec2 r = red_v[0];
    barrier();
    return r;
}

float wg_max_one(float v) {
    uint tid = gl_LocalInvocationID.x;
    red_f[tid] = v;
    barrier();
    for (uint s = WGS / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            red_f[tid] = max(red_f[tid], red_f[tid + s]);
        }
        barrier();
    }
    float m = red_f[0];
    barrier();
    return m;
}

int wg_sum_i(int v) {
    uint tid = gl_LocalInvocationID.x;
    red_i[tid] = v;
    barrier();
    for (uint s = WGS / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            red_i[tid] += red_i[tid + s];
        }
        barrier();
    }
    int r = red_i[0];
    barrier();
    return r;
}
#endif

// wg_share returns wg_one's invocation's v to every invocation (one
// barrier; the others' v is ignored). Between two calls every invocation
// passes a barrier after reading the first result: here the one in
// wg_sum_df_one or wg_max_one before the scalar work.
float wg_share(float v) {
    if (wg_one()) {
        red_f[WGS] = v;
    }
    barrier();
    return red_f[WGS];
}
#endif
