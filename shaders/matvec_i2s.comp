#version 450
// matvec_i2s: decode-time I2_S matvec with emulated int8 dot products (see include/matvec_i2s.glsl).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define SUBGROUP
#include "matvec_i2s.glsl"
