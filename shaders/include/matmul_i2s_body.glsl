// Shared by matmul_i2s and matmul_i2s_subgroup: unpacking of I2_S words.
//
// I2_S layout: a row is k/4 bytes in blocks of 32 bytes (128 elements); byte
// j of a block holds elements j, 32+j, 64+j, 96+j in bits 7:6, 5:4, 3:2, 1:0.
// Word i of a block (bytes 4i..4i+3) and group g therefore pair with the q
// word holding elements 32g+4i..32g+4i+3 of the block.

// dot4 returns sum_j T_j * q_j over the four bytes of c4 (codes, 0 -> -1,
// 1 -> 0, 2 -> +1, 3 -> 0) and qw (int8 activations).
int dot4(uint c4, uint qw) {
    int acc = 0;
    [[unroll]] for (int j = 0; j < 4; j++) {
        int c = int((c4 >> (8 * j)) & 3u);
        int tv = c == 3 ? 0 : c - 1;
        acc += tv * bitfieldExtract(int(qw), 8 * j, 8);
    }
    return acc;
}

// i2s_word_dots adds, for the four tokens t0..t0+3 (those < t), the dots of
// weight word i of a row (value wv) with the matching q words.
ivec4 i2s_word_dots(uint wv, uint i, uint t0, uint t, uint qw_per_tok) {
    ivec4 acc = ivec4(0);
    uint blk = i >> 3u;
    uint wi = i & 7u;
    [[unroll]] for (uint g = 0u; g < 4u; g++) {
        uint c4 = (wv >> (6u - 2u * g)) & 0x03030303u;
        uint qi = blk * 32u + g * 8u + wi;
        [[unroll]] for (uint tt = 0u; tt < 4u; tt++) {
            if (t0 + tt < t) {
                acc[tt] += dot4(c4, q[(t0 + tt) * qw_per_tok + qi]);
            }
        }
    }
    return acc;
}
