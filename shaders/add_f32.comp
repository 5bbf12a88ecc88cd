#version 450
// add_f32: c[i] = a[i] + b[i] for i < n (float32). The workgroup size is
// specialization constant 0 (PipelineConfig.Spec[0]), 64 by default.

layout(local_size_x_id = 0, local_size_x = 64) in;

layout(set = 0, binding = 0) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) readonly buffer B { float b[]; };
layout(set = 0, binding = 2) writeonly buffer C { float c[]; };

layout(push_constant) uniform Push {
    uint n;
} pc;

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i < pc.n) {
        c[i] = a[i] + b[i];
    }
}
