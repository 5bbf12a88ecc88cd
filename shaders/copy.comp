#version 450
// copy: dst = src, 16 bytes per invocation and step (grid-stride): the
// device's memory bandwidth as a compute shader sees it, the yardstick of
// the kernels' bandwidth in bench --op-times.
layout(local_size_x = 256) in;
layout(set = 0, binding = 0) readonly buffer S { uvec4 src[]; };
layout(set = 0, binding = 1) writeonly buffer D { uvec4 dst[]; };
layout(push_constant) uniform P {
    uint n; // 16-byte words
} p;

void main() {
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
        dst[i] = src[i];
    }
}
