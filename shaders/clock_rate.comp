#version 450
// clock_rate: one reading of the device clock of VK_KHR_shader_clock (the
// timeline's kernels read it; Vulkan gives no unit), its low word, for
// vkrt's ClockRate, which compares two readings with timestamps.
#extension GL_EXT_shader_realtime_clock : require
layout(local_size_x = 1) in;
layout(set = 0, binding = 0) writeonly buffer O { uint o[]; };

void main() {
    o[0] = clockRealtime2x32EXT().x;
}
