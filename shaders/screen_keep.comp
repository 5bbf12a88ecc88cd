#version 450
// screen_keep: a screened matmul's rows that must be computed whatever
// their limits (the ids of a repetition penalty's window): lo = -Inf and
// hi = +Inf at each id in [0, n); other entries (padding) are skipped.

layout(local_size_x = 64) in;

layout(set = 0, binding = 0) readonly buffer IDS { int ids[]; };
layout(set = 0, binding = 1) writeonly buffer LO { float lo[]; };
layout(set = 0, binding = 2) writeonly buffer HI { float hi[]; };
layout(push_constant) uniform P {
    uint count;  // ids
    uint n;      // rows
    uint ids_off; // element offsets
    uint lo_off;
    uint hi_off;
} p;

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= p.count) {
        return;
    }
    int id = ids[p.ids_off + i];
    if (id < 0 || uint(id) >= p.n) {
        return;
    }
    lo[p.lo_off + uint(id)] = uintBitsToFloat(0xff800000u);
    hi[p.hi_off + uint(id)] = uintBitsToFloat(0x7f800000u);
}
