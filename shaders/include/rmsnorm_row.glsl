// rmsnorm_row: the RMSNorm (and int8 quantization) of one row by the whole
// workgroup, shared by rmsnorm, attn_combine and the matvec's tail. The
// including shader defines WGS and the accessors XV(i) (input element i),
// YV(i) (output element i, assignable; it may be the input: an invocation
// writes only the elements it read last), WV(i) (the norm weight), and for
// quantization Q8(i) (word i of the int8 row, assignable) and QM(i) (word
// i of the row's scale and code sum, assignable); then it includes this
// file (which includes reduce.glsl).
//
// y = x * (1/sqrt(mean(x^2) + eps)) * w with the sum of squares in
// two-float arithmetic, so the mean rounds as the CPU reference's float64
// sum does. quant packs q = clamp(roundEven(y * s), -128, 127), s = 127 /
// max(max|y|, 1e-5), four per word, and stores s and sum(q) (the ternary
// matmuls subtract it from their code dot products). Without norm it only
// quantizes x.
#include "reduce.glsl"

uint quant_byte(float v, float sc, inout int sum) {
    precise float x = v * sc;
    int qi = int(clamp(roundEven(x), -128.0, 127.0));
    sum += qi;
    return uint(qi) & 0xffu;
}

void rmsnorm_row(uint k, float eps, bool norm, bool quant) {
    uint tid = gl_LocalInvocationID.x;
    float scale = 1.0;
    if (norm) {
        vec2 acc = vec2(0.0);
        for (uint i = tid; i < k; i += WGS) {
            acc = df_add(acc, df_sq(XV(i)));
        }
        vec2 sum = wg_sum_df(acc);
        // mean = float32(sum / k): divide the two-float sum, correct with the residual.
        float kf = float(k);
        float m0 = div_rn(sum.x, kf);
        precise float res = residual(sum.x, m0, kf) + sum.y;
        precise float mean = m0 + res / kf;
        precise float me = mean + eps;
        scale = div_rn(1.0, sqrt_rn(me));
    }
    if (!quant) {
        for (uint i = tid; i < k; i += WGS) {
            precise float v = XV(i) * scale;
            YV(i) = v * WV(i);
        }
        return;
    }
    uint kw = k / 4u;
    float m = 0.0;
    for (uint i = tid; i < kw; i += WGS) {
        vec4 v = vec4(XV(4u * i), XV(4u * i + 1u), XV(4u * i + 2u), XV(4u * i + 3u));
        if (norm) {
            precise vec4 t = v * scale;
            precise vec4 o = t * vec4(WV(4u * i), WV(4u * i + 1u), WV(4u * i + 2u), WV(4u * i + 3u));
            v = o;
        }
        m = max(m, max(max(abs(v.x), abs(v.y)), max(abs(v.z), abs(v.w))));
    }
    m = max(wg_max(m), 1e-5);
    float sc = div_rn(127.0, m);
    int qsum = 0;
    for (uint i = tid; i < kw; i += WGS) {
        vec4 v = vec4(XV(4u * i), XV(4u * i + 1u), XV(4u * i + 2u), XV(4u * i + 3u));
        if (norm) {
            precise vec4 t = v * scale;
            precise vec4 o = t * vec4(WV(4u * i), WV(4u * i + 1u), WV(4u * i + 2u), WV(4u * i + 3u));
            v = o;
        }
        Q8(i) = quant_byte(v.x, sc, qsum) | (quant_byte(v.y, sc, qsum) << 8u) |
                (quant_byte(v.z, sc, qsum) << 16u) | (quant_byte(v.w, sc, qsum) << 24u);
        if (norm) {
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
