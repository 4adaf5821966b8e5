#version 330 core
// Panel composition: a baked mesh per eye. Positions are the eye's viewport NDC on the panel;
// each colour channel has its own texture coordinate into the eye image (lens distortion and
// chromatic correction are baked into these UVs on the CPU).
layout(location = 0) in vec2 a_position;
layout(location = 1) in vec2 a_uv_red;
layout(location = 2) in vec2 a_uv_green;
layout(location = 3) in vec2 a_uv_blue;

out vec2 v_uv_red;
out vec2 v_uv_green;
out vec2 v_uv_blue;

void main() {
    v_uv_red = a_uv_red;
    v_uv_green = a_uv_green;
    v_uv_blue = a_uv_blue;
    gl_Position = vec4(a_position, 0.0, 1.0);
}
