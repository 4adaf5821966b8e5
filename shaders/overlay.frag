#version 330 core
// Flat colour with alpha (blended over the panel image).
in vec4 v_color;
out vec4 frag_color;

void main() {
    frag_color = v_color;
}
