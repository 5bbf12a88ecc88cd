#version 450
// screen_bounds: the limits of a screened matmul's rows (see
// compute.ScreenLimits): with X1 the sum of |x| (each workgroup sums it,
// in the same order), b = c*X1 + 2^-96, lo = a - b and hi = a + b, or -Inf
// and +Inf when either is NaN or X1 is not finite. a is the rows' output
// through the Q8_0 copy, c their bounds. A workgroup takes 256*PER rows.

layout(local_size_x = 256) in;
const uint PER = 4u;

layout(set = 0, binding = 0) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) readonly buffer C { float c[]; };
layout(set = 0, binding = 2) readonly buffer X { float x[]; };
layout(set = 0, binding = 3) writeonly buffer LO { float lo[]; };
layout(set = 0, binding = 4) writeonly buffer HI { float hi[]; };
layout(push_constant) uniform P {
    uint n;      // rows
    uint k;      // elements of x
    uint a_off;  // element offsets
    uint c_off;
    uint x_off;
    uint lo_off;
    uint hi_off;
} p;

shared float part[256];

void main() {
    uint tid = gl_LocalInvocationID.x;
    float s = 0.0;
    for (uint i = tid; i < p.k; i += 256u) {
        s += abs(x[p.x_off + i]);
    }
    part[tid] = s;
    barrier();
    for (uint st = 128u; st > 0u; st >>= 1u) {
        if (tid < st) {
            part[tid] += part[tid + st];
        }
        barrier();
    }
    float x1 = part[0];
    bool bad = isinf(x1) || isnan(x1);
    const float slack = uintBitsToFloat(0x0f800000u); // 2^-96
    const float inf = uintBitsToFloat(0x7f800000u);
    for (uint j = 0u; j < PER; j++) {
        uint r = (gl_WorkGroupID.x * PER + j) * 256u + tid;
        if (r >= p.n) {
            return;
        }
        float av = a[p.a_off + r];
        precise float b = c[p.c_off + r] * x1;
        b = b + slack;
        precise float l = av - b;
        precise float h = av + b;
        if (bad || isnan(l) || isnan(h)) {
            l = -inf;
            h = inf;
        }
        lo[p.lo_off + r] = l;
        hi[p.hi_off + r] = h;
    }
}
