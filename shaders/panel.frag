#version 330 core
// Three samples of the eye image, one per channel; outside the image is black.
// With ACHROMATIC defined (all channels share one UV: no lens, or a lens without chromatic
// correction) one sample serves all three channels.
in vec2 v_uv_red;
in vec2 v_uv_green;
in vec2 v_uv_blue;

uniform sampler2D u_eye;

out vec4 frag_color;

float inside(vec2 uv) {
    return float(all(greaterThanEqual(uv, vec2(0.0))) && all(lessThanEqual(uv, vec2(1.0))));
}

void main() {
#ifdef ACHROMATIC
    frag_color = vec4(texture(u_eye, v_uv_green).rgb * inside(v_uv_green), 1.0);
#else
    float r = texture(u_eye, v_uv_red).r * inside(v_uv_red);
    float g = texture(u_eye, v_uv_green).g * inside(v_uv_green);
    float b = texture(u_eye, v_uv_blue).b * inside(v_uv_blue);
    frag_color = vec4(r, g, b, 1.0);
#endif
}
