#version 450
// advance: the end of a greedy decode step that the device chains to the
// next one. The step's best candidate is kept in picks at the step's
// position modulo their count, then becomes the next step's token at the
// next position.
layout(local_size_x = 1) in;
layout(set = 0, binding = 0) buffer IDS { int ids[]; };
layout(set = 0, binding = 1) buffer POS { int pos[]; };
layout(set = 0, binding = 2) readonly buffer BEST { int best[]; };
layout(set = 0, binding = 3) writeonly buffer PICKS { int picks[]; };
layout(push_constant) uniform P {
    uint ids_off;
    uint pos_off;
    uint best_off;
    uint picks_off;
    uint n;  // picks
} p;

void main() {
    int id = best[p.best_off];
    int at = pos[p.pos_off];
    picks[p.picks_off + uint(at) % p.n] = id;
    ids[p.ids_off] = id;
    pos[p.pos_off] = at + 1;
}
