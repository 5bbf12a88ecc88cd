#version 450
// phases_dot: phases with packed int8 dot products (OpSDot, SPV_KHR_integer_dot_product).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : enable
#define DOT
#include "phases.glsl"
