#version 450
// phases: dependent phases as dispatches or in one persistent dispatch, with emulated int8 dot products (see include/phases.glsl).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : enable
#include "phases.glsl"
