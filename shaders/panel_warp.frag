#version 330 core
// Timewarped panel composition (panel_warp.vert): three samples of the eye image at the warped
// uv, one per channel. Panel points the lens shows black (unwarped uv outside the image) stay
// black. Points the rotated view leaves uncovered (warped uv outside the image) repeat the
// image's edge (the uv are clamped), or with UNCOVERED_BLACK are black: never garbage.
// ACHROMATIC and ENCODE_SRGB as in panel.frag.
in vec2 v_uv_red;
in vec2 v_uv_green;
in vec2 v_uv_blue;
in vec2 v_lens_red;
in vec2 v_lens_green;
in vec2 v_lens_blue;

uniform sampler2D u_eye;

out vec4 frag_color;

#ifdef ENCODE_SRGB
vec3 linear_to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(vec3(0.0031308), c));
}
#endif

float inside(vec2 uv) {
    return float(all(greaterThanEqual(uv, vec2(0.0))) && all(lessThanEqual(uv, vec2(1.0))));
}

float covered(vec2 lens, vec2 uv) {
#ifdef UNCOVERED_BLACK
    return inside(lens) * inside(uv);
#else
    return inside(lens);
#endif
}

void main() {
#ifdef ACHROMATIC
    vec2 uv = clamp(v_uv_green, 0.0, 1.0);
    frag_color = vec4(texture(u_eye, uv).rgb * covered(v_lens_green, v_uv_green), 1.0);
#else
    float r = texture(u_eye, clamp(v_uv_red, 0.0, 1.0)).r * covered(v_lens_red, v_uv_red);
    float g = texture(u_eye, clamp(v_uv_green, 0.0, 1.0)).g * covered(v_lens_green, v_uv_green);
    float b = texture(u_eye, clamp(v_uv_blue, 0.0, 1.0)).b * covered(v_lens_blue, v_uv_blue);
    frag_color = vec4(r, g, b, 1.0);
#endif
#ifdef ENCODE_SRGB
    frag_color.rgb = linear_to_srgb(frag_color.rgb);
#endif
}
