#version 330 core
// Three samples of the eye image, one per channel; outside the image is black.
// With ACHROMATIC defined (all channels share one UV: no lens, or a lens without chromatic
// correction) one sample serves all three channels.
// With ENCODE_SRGB defined (the eye images are sRGB textures, decoded to linear when sampled, so
// the lens resampling filters in linear light) the output is sRGB-encoded as the last step: the
// panel framebuffer holds the bytes the display shows.
in vec2 v_uv_red;
in vec2 v_uv_green;
in vec2 v_uv_blue;

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

void main() {
#ifdef ACHROMATIC
    frag_color = vec4(texture(u_eye, v_uv_green).rgb * inside(v_uv_green), 1.0);
#else
    float r = texture(u_eye, v_uv_red).r * inside(v_uv_red);
    float g = texture(u_eye, v_uv_green).g * inside(v_uv_green);
    float b = texture(u_eye, v_uv_blue).b * inside(v_uv_blue);
    frag_color = vec4(r, g, b, 1.0);
#endif
#ifdef ENCODE_SRGB
    frag_color.rgb = linear_to_srgb(frag_color.rgb);
#endif
}
