// rmsnorm_row: the RMSNorm (and int8 quantization) of one row by the whole
// workgroup, shared by rmsnorm, attn_combine and the matvec's tail. The
// including shader defines WGS and the accessors XV(i) (input element i),
// YV(i) (output element i, assignable; it may be the input: an invocation
// writes only the elements it read), WV(i) (the norm weight), and for
// quantization Q8(i) (word i of the int8 row, assignable) and QM(i) (word
// i of the row's scale and code sum, assignable); then it includes this
// file (which includes reduce.glsl). Optionally it defines YOK (whether
// this invocation writes YV; default true: a workgroup that only needs the
// quantization need not write the row) and RMS_MAXK (the longest row kept
// in registers; default 8192), RMS_NO_QSUM (the code sum is not
// reduced over the workgroup and QM(1) is left alone; with RMS_QSUM_PARTS,
// a constant expression, true, the fast path leaves each subgroup's part
// of it in QP(gl_SubgroupID) instead, for the including shader to add up
// after its next barrier), RMS_WPRE (a constant expression: the norm
// weights are loaded ahead of time; see rms_load_w).
//
// y = x * (1/sqrt(mean(x^2) + eps)) * w with the sum of squares in
// two-float arithmetic, so the mean rounds as the CPU reference's float64
// sum does. quant packs q = clamp(roundEven(y * s), -128, 127), s = 127 /
// max(max|y|, 1e-5), four per word, and stores s and sum(q) (the ternary
// matmuls subtract it from their code dot products). Without norm it only
// quantizes x. Each of the two scales is computed by one invocation once
// its reduction is done and shared through shared memory (two barriers
// each), not repeated by every subgroup: the correctly rounded division
// and square root are long, and on a GPU the 32 subgroups of a
// 1,024-invocation workgroup would issue them side by side.
//
// Rows of up to MAXK elements (a multiple of 4) are read once into
// registers, every load of an invocation issued together (a workgroup that
// works alone on a row waits on memory latency, not bandwidth); longer or
// odd rows take strided passes.
#include "reduce.glsl"

#ifndef YOK
#define YOK true
#endif
#ifdef RMS_MAXK
const uint MAXK = RMS_MAXK;
#else
const uint MAXK = 8192u;
#endif
const uint MAXW = (MAXK / 4u + WGS - 1u) / WGS; // words of a row per invocation

uint quant_byte(float v, float sc, inout int sum) {
    precise float x = v * sc;
    int qi = int(clamp(roundEven(x), -128.0, 127.0));
    sum += qi;
    return uint(qi) & 0xffu;
}

// norm_w and row_w return this invocation's j-th word of the norm weight
// and of the row, of kw words, in the fast path of rmsnorm_row (zero past
// the row).
vec4 norm_w(uint j, uint kw) {
    uint i = gl_LocalInvocationID.x + j * WGS;
    return i < kw ? vec4(WV(4u * i), WV(4u * i + 1u), WV(4u * i + 2u), WV(4u * i + 3u)) : vec4(0.0);
}

vec4 row_w(uint j, uint kw) {
    uint i = gl_LocalInvocationID.x + j * WGS;
    return i < kw ? vec4(XV(4u * i), XV(4u * i + 1u), XV(4u * i + 2u), XV(4u * i + 3u)) : vec4(0.0);
}

#ifndef RMS_WPRE
#define RMS_WPRE false
#endif
// Where RMS_WPRE is true, a constant expression so that the choice folds
// away, the including shader loads this invocation's words of the norm
// weights ahead of time with rms_load_w for one row that takes the fast
// path of rmsnorm_row (k <= MAXK, a multiple of 4), and rmsnorm_row uses
// them: the chained matvecs issue these loads before they wait for their
// input.
vec4 rms_wpre[MAXW];

void rms_load_w(uint k) {
    [[unroll]] for (uint j = 0u; j < MAXW; j++) {
        rms_wpre[j] = norm_w(j, k / 4u);
    }
}

// quant_word packs the codes of four values (element 4i+j in byte j).
uint quant_word(vec4 v, float sc, inout int sum) {
    return quant_byte(v.x, sc, sum) | (quant_byte(v.y, sc, sum) << 8u) |
           (quant_byte(v.z, sc, sum) << 16u) | (quant_byte(v.w, sc, sum) << 24u);
}

// sq_add returns acc plus the squares of v's elements, in two-float
// arithmetic.
vec2 sq_add(vec2 acc, vec4 v) {
    [[unroll]] for (uint e = 0u; e < 4u; e++) {
        acc = df_add(acc, df_sq(v[e]));
    }
    return acc;
}

// scaled returns v * scale * w, each product rounded (the CPU reference's
// order).
vec4 scaled(vec4 v, float scale, vec4 w) {
    precise vec4 t = v * scale;
    precise vec4 o = t * w;
    return o;
}

// abs_max returns the larger of m and the largest magnitude in v.
float abs_max(float m, vec4 v) {
    vec4 a = abs(v);
    return max(m, max(max(a.x, a.y), max(a.z, a.w)));
}

// word_in returns word i of the row (elements 4i..4i+3), normalized with
// scale and the weight when norm.
vec4 word_in(uint i, bool norm, float scale) {
    vec4 v = vec4(XV(4u * i), XV(4u * i + 1u), XV(4u * i + 2u), XV(4u * i + 3u));
    if (norm) {
        v = scaled(v, scale, vec4(WV(4u * i), WV(4u * i + 1u), WV(4u * i + 2u), WV(4u * i + 3u)));
    }
    return v;
}

// norm_scale returns 1/sqrt(mean + eps) from the two-float sum of squares.
float norm_scale(vec2 sum, uint k, float eps) {
    float kf = float(k);
    float m0 = div_rn(sum.x, kf);
    precise float res = residual(sum.x, m0, kf) + sum.y;
    precise float mean = m0 + res / kf;
    precise float me = mean + eps;
    return div_rn(1.0, sqrt_rn(me));
}

// wg_norm_scale returns norm_scale of the workgroup's two-float sum of
// acc, computed by one invocation (the division and square root correctly
// rounded are long: not worth repeating in every subgroup).
float wg_norm_scale(vec2 acc, uint k, float eps) {
    vec2 sum = wg_sum_df_one(acc);
    float scale = 0.0;
    if (wg_one()) {
        scale = norm_scale(sum, k, eps);
    }
    return wg_share(scale);
}

// wg_quant_scale returns the int8 scale 127 / max(m, 1e-5) of the
// workgroup's maximum of m, computed by one invocation.
float wg_quant_scale(float m) {
    m = wg_max_one(m);
    float sc = 0.0;
    if (wg_one()) {
        sc = div_rn(127.0, max(m, 1e-5));
    }
    return wg_share(sc);
}

void rmsnorm_row_strided(uint k, float eps, bool norm, bool quant);

void rmsnorm_row(uint k, float eps, bool norm, bool quant) {
    if (k > MAXK || k % 4u != 0u) {
        rmsnorm_row_strided(k, eps, norm, quant);
        return;
    }
    uint tid = gl_LocalInvocationID.x;
    uint kw = k / 4u;
    vec4 v[MAXW];
    [[unroll]] for (uint j = 0u; j < MAXW; j++) {
        v[j] = row_w(j, kw);
    }
    if (norm) {
        vec4 wv[MAXW];
        [[unroll]] for (uint j = 0u; j < MAXW; j++) {
            wv[j] = RMS_WPRE ? rms_wpre[j] : norm_w(j, kw);
        }
        vec2 acc = vec2(0.0);
        [[unroll]] for (uint j = 0u; j < MAXW; j++) {
            acc = sq_add(acc, v[j]);
        }
        float scale = wg_norm_scale(acc, k, eps);
        [[unroll]] for (uint j = 0u; j < MAXW; j++) {
            vec4 o = scaled(v[j], scale, wv[j]);
            v[j] = o;
            uint i = tid + j * WGS;
            if (YOK && i < kw) {
                YV(4u * i) = o.x;
                YV(4u * i + 1u) = o.y;
                YV(4u * i + 2u) = o.z;
                YV(4u * i + 3u) = o.w;
            }
        }
    }
    if (!quant) {
        return;
    }
    float m = 0.0;
    [[unroll]] for (uint j = 0u; j < MAXW; j++) {
        m = abs_max(m, v[j]);
    }
    float sc = wg_quant_scale(m);
    int qsum = 0;
    [[unroll]] for (uint j = 0u; j < MAXW; j++) {
        uint i = tid + j * WGS;
        if (i < kw) {
            Q8(i) = quant_word(v[j], sc, qsum);
        }
    }
#ifdef RMS_NO_QSUM
    if (tid == 0u) {
        QM(0u) = floatBitsToUint(sc);
    }
#if defined(SUBGROUP) && defined(RMS_QSUM_PARTS)
    if (RMS_QSUM_PARTS) {
        qsum = subgroupAdd(qsum);
        if (subgroupElect()) {
            QP(gl_SubgroupID) = qsum;
        }
    }
#endif
#else
    qsum = wg_sum_i(qsum);
    if (tid == 0u) {
        QM(0u) = floatBitsToUint(sc);
        QM(1u) = uint(qsum);
    }
#endif
}

// rmsnorm_row_strided is rmsnorm_row for any row: passes over the row.
void rmsnorm_row_strided(uint k, float eps, bool norm, bool quant) {
    uint tid = gl_LocalInvocationID.x;
    float scale = 1.0;
    if (norm) {
        vec2 acc = vec2(0.0);
        for (uint i = tid; i < k; i += WGS) {
            acc = df_add(acc, df_sq(XV(i)));
        }
        scale = wg_norm_scale(acc, k, eps);
    }
    if (!quant) {
        for (uint i = tid; YOK && i < k; i += WGS) {
            precise float v = XV(i) * scale;
            YV(i) = v * WV(i);
        }
        return;
    }
    uint kw = k / 4u;
    float m = 0.0;
    for (uint i = tid; i < kw; i += WGS) {
        m = abs_max(m, word_in(i, norm, scale));
    }
    float sc = wg_quant_scale(m);
    int qsum = 0;
    for (uint i = tid; i < kw; i += WGS) {
        vec4 v = word_in(i, norm, scale);
        Q8(i) = quant_word(v, sc, qsum);
        if (norm && YOK) {
            YV(4u * i) = v.x;
            YV(4u * i + 1u) = v.y;
            YV(4u * i + 2u) = v.z;
            YV(4u * i + 3u) = v.w;
        }
    }
    qsum = wg_sum_i(qsum);
    if (tid == 0u) {
        QM(0u) = floatBitsToUint(sc);
        QM(1u) = uint(qsum);
    }
}
