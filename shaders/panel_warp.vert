#version 330 core
// Panel composition with timewarp. Each vertex carries, per colour channel, the tan-angle
// direction (x / -z, y / -z in the eye frame) the lens maps that panel point to. The direction
// is rotated by u_warp (the rotation from the newest predicted eye pose to the pose the eye
// image was rendered with, R_render_new) and projected into the eye image with its render Fov.
// With SCANLINE defined the rotation is blended from u_warp (top row of the panel, scanned out
// first) to u_warp_end (bottom row) by the vertex's scan-out fraction u_scan.x + u_scan.y * y.
layout(location = 0) in vec2 a_position;
layout(location = 1) in vec2 a_tan_red;
layout(location = 2) in vec2 a_tan_green;
layout(location = 3) in vec2 a_tan_blue;

uniform mat3 u_warp;
#ifdef SCANLINE
uniform mat3 u_warp_end;
uniform vec2 u_scan;
#endif
uniform vec4 u_tan;  // render Fov tangents: left, right, up, down

out vec2 v_uv_red;    // warped eye uv, sampled (clamped to the image)
out vec2 v_uv_green;
out vec2 v_uv_blue;
out vec2 v_lens_red;  // unwarped eye uv: outside [0, 1] is what the lens shows black
out vec2 v_lens_green;
out vec2 v_lens_blue;

vec2 to_uv(vec2 t) {
    return vec2((t.x - u_tan.x) / (u_tan.y - u_tan.x), (t.y - u_tan.w) / (u_tan.z - u_tan.w));
}

vec2 warp(vec2 t) {
    vec3 d = vec3(t, -1.0);
#ifdef SCANLINE
    float s = clamp(u_scan.x + u_scan.y * a_position.y, 0.0, 1.0);
    vec3 r = mix(u_warp * d, u_warp_end * d, s);
#else
    vec3 r = u_warp * d;
#endif
    // Behind the eye (|rotation| > 90 deg from the view axis): far outside, clamped or black.
    float z = min(r.z, -1e-6);
    return to_uv(r.xy / -z);
}

void main() {
    v_lens_red = to_uv(a_tan_red);
    v_lens_green = to_uv(a_tan_green);
    v_lens_blue = to_uv(a_tan_blue);
    v_uv_red = warp(a_tan_red);
    v_uv_green = warp(a_tan_green);
    v_uv_blue = warp(a_tan_blue);
    gl_Position = vec4(a_position, 0.0, 1.0);
}
