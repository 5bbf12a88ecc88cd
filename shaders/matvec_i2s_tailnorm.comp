#version 450
// matvec_i2s_tailnorm: matvec_i2s followed in the same dispatch by the RMSNorm and quantization of its output for the next matvec, by the workgroup that finishes last (see include/matvec_i2s.glsl).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define SUBGROUP
#define TAIL_NORM
#include "matvec_i2s.glsl"
