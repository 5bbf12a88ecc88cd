// dot4(c4, q4): the dot product of four unsigned bytes c4 (weight codes
// 0..2, or any value below 128) with four signed bytes q4 (int8
// activations). With DOT it is one packed integer dot product instruction
// (OpSDot of SPV_KHR_integer_dot_product, emitted through
// GL_EXT_spirv_intrinsics); otherwise four byte multiplies.
#ifndef DOT4_GLSL
#define DOT4_GLSL
#ifdef DOT
#extension GL_EXT_spirv_intrinsics : require
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdot4(uint a, uint b, spirv_literal int fmt);
int dot4(uint c4, uint q4) { return sdot4(c4, q4, 0); }
#else
int dot4(uint c4, uint q4) {
    int s = 0;
    [[unroll]] for (int j = 0; j < 4; j++) {
        s += int((c4 >> (8 * j)) & 0xffu) * bitfieldExtract(int(q4), 8 * j, 8);
    }
    return s;
}
#endif
#endif
