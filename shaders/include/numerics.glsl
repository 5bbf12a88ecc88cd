// Numeric helpers of the bitnet compute shaders.
//
// Conventions: every tensor is a storage buffer bound whole (or a weight
// chunk); element offsets come in push constants. Activations are float32,
// the KV cache holds two F16 values per uint, weights are raw file bytes read
// as uint words. Arithmetic that must match the CPU reference bit for bit is
// marked precise (no contraction into fma) and divisions use div_rn.
#ifndef NUMERICS_GLSL
#define NUMERICS_GLSL

#extension GL_EXT_control_flow_attributes : enable

#define WG 64u

// Byte i of a uint array (little-endian).
#define BYTE_AT(buf, i) ((buf[(i) >> 2u] >> (((i) & 3u) * 8u)) & 0xffu)

// next/previous representable float away from / towards zero (finite x != 0).
float next_away(float x) { return uintBitsToFloat(floatBitsToUint(x) + 1u); }
float next_toward(float x) { return uintBitsToFloat(floatBitsToUint(x) - 1u); }

// two_prod returns (p, e) with p = fl(a*b) and a*b = p + e exactly, by
// Veltkamp splitting (no reliance on a fused multiply-add, which Vulkan does
// not guarantee).
vec2 two_prod(float a, float b) {
    precise float ca = 4097.0 * a;
    precise float ah = ca - (ca - a);
    precise float al = a - ah;
    precise float cb = 4097.0 * b;
    precise float bh = cb - (cb - b);
    precise float bl = b - bh;
    precise float p = a * b;
    precise float e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    return vec2(p, e);
}

// residual returns a - q*b, accurate to a few bits of its own (tiny) size.
float residual(float a, float q, float b) {
    vec2 pe = two_prod(q, b);
    precise float r = (a - pe.x) - pe.y;
    return r;
}

// div_rn returns a/b rounded to nearest (Vulkan's division may be off by a
// few ulp): among the quotient and its neighbours, the one with the
// smallest residual a - q*b wins.
float div_rn(float a, float b) {
    precise float q = a / b;
    if (q == 0.0 || isinf(q) || isnan(q)) {
        return q;
    }
    [[unroll]] for (int it = 0; it < 3; it++) {
        float qu = next_away(q);
        float qd = next_toward(q);
        float r0 = abs(residual(a, q, b));
        float ru = abs(residual(a, qu, b));
        float rd = abs(residual(a, qd, b));
        if (ru < r0 && ru <= rd) {
            q = qu;
        } else if (rd < r0) {
            q = qd;
        } else {
            break;
        }
    }
    return q;
}

// sqrt_rn returns sqrt(a) rounded to nearest (a > 0).
float sqrt_rn(float a) {
    precise float r = sqrt(a);
    [[unroll]] for (int it = 0; it < 3; it++) {
        float ru = next_away(r);
        float rd = next_toward(r);
        float e0 = abs(residual(a, r, r));
        float eu = abs(residual(a, ru, ru));
        float ed = abs(residual(a, rd, rd));
        if (eu < e0 && eu <= ed) {
            r = ru;
        } else if (ed < e0) {
            r = rd;
        } else {
            break;
        }
    }
    return r;
}

// Two-float (double-single) arithmetic for sums that must round like a
// float64 accumulation: (hi, lo) with |lo| <= ulp(hi)/2.
vec2 two_sum(float a, float b) {
    precise float s = a + b;
    precise float bb = s - a;
    precise float err = (a - (s - bb)) + (b - bb);
    return vec2(s, err);
}

vec2 df_add(vec2 x, vec2 y) {
    vec2 s = two_sum(x.x, y.x);
    precise float lo = s.y + x.y + y.y;
    return two_sum(s.x, lo);
}

vec2 df_sq(float a) { return two_prod(a, a); }

// f32_to_f16 rounds to the nearest half, ties to even (as F16C and ggml).
uint f32_to_f16(float f) {
    uint b = floatBitsToUint(f);
    uint sgn = (b >> 16u) & 0x8000u;
    int ex = int((b >> 23u) & 0xffu);
    uint mant = b & 0x7fffffu;
    if (ex == 255) {
        return sgn | 0x7c00u | (mant != 0u ? (0x200u | (mant >> 13u)) : 0u);
    }
    int e = ex - 127 + 15;
    if (e >= 31) {
        return sgn | 0x7c00u;
    }
    if (e <= 0) {
        if (e < -10) {
            return sgn;
        }
        uint m = mant | 0x800000u;
        uint sh = uint(14 - e);
        uint hf = 1u << (sh - 1u);
        uint r = m >> sh;
        uint rem = m & ((1u << sh) - 1u);
        if (rem > hf || (rem == hf && (r & 1u) == 1u)) {
            r++;
        }
        return sgn | r;
    }
    uint r = (uint(e) << 10u) | (mant >> 13u);
    uint rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u) == 1u)) {
        r++;
    }
    return sgn | r;
}

float f16_to_f32(uint h) { return unpackHalf2x16(h & 0xffffu).x; }

float round_f16(float f) { return f16_to_f32(f32_to_f16(f)); }

// Half i of a uint array holding two halves per word.
#define HALF_AT(buf, i) f16_to_f32(buf[(i) >> 1u] >> (((i) & 1u) * 16u))

#endif
