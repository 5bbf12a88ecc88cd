// Per-row int8 quantization of the ternary matmuls' activations, shared by
// the kernels that produce it (rmsnorm with QUANT, attn_combine): after a
// workgroup has the row's float values v, quantize_row packs
// q = clamp(roundEven(v * s), -128, 127) with s = 127 / max(max|v|, 1e-5)
// four per uint into Q8 and stores s and sum(q) (the matmuls subtract it
// from the code dot product) in QM.
//
// The including shader declares Q8 (uint q8[]) and QM (uint qm[]) buffers,
// WGS (the workgroup size) and the shared arrays red_f (float) and red_i
// (int) of WGS entries.

// wg_max returns the workgroup's maximum of v (all invocations call it).
float wg_max(float v) {
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

// wg_sum_i returns the workgroup's sum of v.
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

uint quant_byte(float v, float sc, inout int sum) {
    precise float x = v * sc;
    int qi = int(clamp(roundEven(x), -128.0, 127.0));
    sum += qi;
    return uint(qi) & 0xffu;
}
