// rmsnorm_row: the RMSNorm (and int8 quantization) of one row by the whole
// workgroup, shared by rmsnorm and attn_combine. The including shader
// defines XV(i) and YV(i) (the row's input and output element i, YV
// assignable), declares buffers W (float w[]), Q8 (uint q8[]) and QM
// (uint qm[]), WGS, and the shared arrays part (vec2), red_f (float) and
// red_i (int) of WGS entries, then includes quant.glsl and this file.
//
// y = x * (1/sqrt(mean(x^2) + eps)) * w with the sum of squares in
// two-float arithmetic, so the mean rounds as the CPU reference's float64
// sum does; with quant, y's quantization goes to row qrow of Q8 and QM.
// Without norm it only quantizes x. In-place rows (YV the same as XV) are
// fine: an invocation writes only the elements it read last.
void rmsnorm_row(uint k, float eps, bool norm, bool quant, uint qrow) {
    uint tid = gl_LocalInvocationID.x;
    float scale = 1.0;
    if (norm) {
        vec2 acc = vec2(0.0);
        for (uint i = tid; i < k; i += WGS) {
            acc = df_add(acc, df_sq(XV(i)));
        }
        part[tid] = acc;
        barrier();
        for (uint s = WGS / 2u; s > 0u; s >>= 1u) {
            if (tid < s) {
                part[tid] = df_add(part[tid], part[tid + s]);
            }
            barrier();
        }
        vec2 sum = part[0];
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
            YV(i) = v * w[i];
        }
        return;
    }
    // Quantize: every invocation keeps to the words it packs.
    uint kw = k / 4u;
    float m = 0.0;
    for (uint i = tid; i < kw; i += WGS) {
        vec4 v = vec4(XV(4u * i), XV(4u * i + 1u), XV(4u * i + 2u), XV(4u * i + 3u));
        if (norm) {
            precise vec4 t = v * scale;
            precise vec4 o = t * vec4(w[4u * i], w[4u * i + 1u], w[4u * i + 2u], w[4u * i + 3u]);
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
            precise vec4 o = t * vec4(w[4u * i], w[4u * i + 1u], w[4u * i + 2u], w[4u * i + 3u]);
            v = o;
        }
        uint word = quant_byte(v.x, sc, qsum) | (quant_byte(v.y, sc, qsum) << 8u) |
                    (quant_byte(v.z, sc, qsum) << 16u) | (quant_byte(v.w, sc, qsum) << 24u);
        q8[qrow * kw + i] = word;
        if (norm) {
            YV(4u * i) = v.x;
            YV(4u * i + 1u) = v.y;
            YV(4u * i + 2u) = v.z;
            YV(4u * i + 3u) = v.w;
        }
    }
    qsum = wg_sum_i(qsum);
    if (tid == 0u) {
        qm[2u * qrow] = floatBitsToUint(sc);
        qm[2u * qrow + 1u] = uint(qsum);
    }
}
