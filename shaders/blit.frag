#version 330 core
// Plain textured copy: the baseline the distortion pass is compared against, and the window's
// letterboxed panel. With ENCODE_SRGB (an sRGB source, decoded when sampled) the copy is
// sRGB-encoded as the panel pass encodes it.
in vec2 v_uv;
uniform sampler2D u_image;
out vec4 frag_color;

void main() {
    frag_color = texture(u_image, v_uv);
#ifdef ENCODE_SRGB
    vec3 c = clamp(frag_color.rgb, 0.0, 1.0);
    frag_color.rgb = mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(vec3(0.0031308), c));
#endif
}
