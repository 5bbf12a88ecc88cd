#version 450
// matvec_i2s_grid: matvec_i2s in fewer workgroups than blocks, each taking every G-th block (see include/matvec_i2s.glsl).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define SUBGROUP
#define GRID
#include "matvec_i2s.glsl"
