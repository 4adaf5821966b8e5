#version 330 core
// Per-pixel lens pre-distortion: a COMPARISON variant of the baked-mesh panel pass.
// vrkit's production path bakes the lens model into per-vertex UVs on the CPU (panel.frag only
// samples); this shader instead evaluates the radial polynomial of a radial / panotools lens per
// fragment, to compare cost and quality (benchmarks/bench_distortion.py).
//
// Drawn with panel.vert and a full-viewport quad whose green UV is the fragment's position in
// the eye viewport, [0, 1] from the bottom-left. For channel c the eye sees the panel point p
// (tan units about the lens centre) at ideal = p * G_c(|p|), G_c(r) = g_c(r) / r given as 12
// coefficients in ascending powers of r (three vec4 per channel).
in vec2 v_uv_green;

uniform sampler2D u_eye;
uniform vec4 u_extent;  // viewport edges in panel tan units: left, right, bottom, top
uniform vec4 u_tan;     // eye image Fov tangents: left, right, up, down
uniform float u_max_r;  // usable panel radius of the lens model (tan units)
uniform vec4 u_red_a;
uniform vec4 u_red_b;
uniform vec4 u_red_c;
uniform vec4 u_green_a;
uniform vec4 u_green_b;
uniform vec4 u_green_c;
uniform vec4 u_blue_a;
uniform vec4 u_blue_b;
uniform vec4 u_blue_c;

out vec4 frag_color;

float horner(vec4 a, vec4 b, vec4 c, float r) {
    float s = c.w;
    s = s * r + c.z;
    s = s * r + c.y;
    s = s * r + c.x;
    s = s * r + b.w;
    s = s * r + b.z;
    s = s * r + b.y;
    s = s * r + b.x;
    s = s * r + a.w;
    s = s * r + a.z;
    s = s * r + a.y;
    s = s * r + a.x;
    return s;
}

vec2 eye_uv(vec2 ideal) {
    return vec2((ideal.x - u_tan.x) / (u_tan.y - u_tan.x), (ideal.y - u_tan.w) / (u_tan.z - u_tan.w));
}

#ifdef ENCODE_SRGB
vec3 linear_to_srgb(vec3 c) {  // as panel.frag: sRGB eye images come out encoded
    c = clamp(c, 0.0, 1.0);
    return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(vec3(0.0031308), c));
}
#endif

float inside(vec2 uv) {
    return float(all(greaterThanEqual(uv, vec2(0.0))) && all(lessThanEqual(uv, vec2(1.0))));
}

void main() {
    vec2 p = vec2(mix(u_extent.x, u_extent.y, v_uv_green.x), mix(u_extent.z, u_extent.w, v_uv_green.y));
    float r = length(p);
    if (r > u_max_r) {
        frag_color = vec4(0.0, 0.0, 0.0, 1.0);
        return;
    }
    vec2 uv_r = eye_uv(p * horner(u_red_a, u_red_b, u_red_c, r));
    vec2 uv_g = eye_uv(p * horner(u_green_a, u_green_b, u_green_c, r));
    vec2 uv_b = eye_uv(p * horner(u_blue_a, u_blue_b, u_blue_c, r));
    float cr = texture(u_eye, uv_r).r * inside(uv_r);
    float cg = texture(u_eye, uv_g).g * inside(uv_g);
    float cb = texture(u_eye, uv_b).b * inside(uv_b);
    frag_color = vec4(cr, cg, cb, 1.0);
#ifdef ENCODE_SRGB
    frag_color.rgb = linear_to_srgb(frag_color.rgb);
#endif
}
