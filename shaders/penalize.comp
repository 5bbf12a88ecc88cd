#version 450
// penalize: the repetition penalty at each listed id (negative ids are
// padding; no id is listed twice): positive logits are divided by the
// penalty, others multiplied by it, correctly rounded as the host does.
#include "numerics.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) buffer L { float l[]; };
layout(set = 0, binding = 1) readonly buffer IDS { int ids[]; };
layout(push_constant) uniform P {
    uint n;       // logits
    uint nids;
    uint l_off;
    uint ids_off;
    float penalty;
} p;

void main() {
    for (uint i = gl_LocalInvocationID.x; i < p.nids; i += 64u) {
        int id = ids[p.ids_off + i];
        if (id < 0 || uint(id) >= p.n) {
            continue;
        }
        uint j = p.l_off + uint(id);
        float v = l[j];
        precise float o = v > 0.0 ? div_rn(v, p.penalty) : v * p.penalty;
        l[j] = o;
    }
}
