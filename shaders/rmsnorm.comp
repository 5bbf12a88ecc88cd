#version 450
// rmsnorm: RMSNorm of each row (and its int8 quantization), shared-memory reductions (see include/rmsnorm_body.glsl).
#include "rmsnorm_body.glsl"
