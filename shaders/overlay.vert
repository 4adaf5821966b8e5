#version 330 core
// Overlay quads (frame-time bars, seven-segment digits) given in window pixels, origin at the
// top-left corner, +y down; converted to NDC here.
layout(location = 0) in vec2 a_position;
layout(location = 1) in vec4 a_color;

uniform vec2 u_size;  // window framebuffer size in pixels

out vec4 v_color;

void main() {
    v_color = a_color;
    vec2 ndc = vec2(a_position.x / u_size.x * 2.0 - 1.0, 1.0 - a_position.y / u_size.y * 2.0);
    gl_Position = vec4(ndc, 0.0, 1.0);
}
