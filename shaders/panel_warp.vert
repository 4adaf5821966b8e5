#version 330 core
// Panel composition with timewarp. Each vertex carries, per colour channel, the tan-angle
// direction (x / -z, y / -z in the eye frame) the lens maps that panel point to. The direction
// is rotated by u_warp (the rotation from the newest predicted eye pose to the pose the eye
// image was rendered with, R_render_new) and projected into the eye image with its render Fov.
// With SCANLINE defined the rotation is blended from u_warp (top row of the panel, scanned out
// first) to u_warp_end (bottom row) by the vertex's scan-out fraction u_scan.x + u_scan.y * y.
// With POSITION defined the warp is positional: the newest eye sits at u_shift (metres, in the
// rendered eye's frame), so a direction is a ray from there; the rotation-warped uv is a first
// guess (the point at infinity), the eye depth there (window depth, u_depth_range = near, far)
// gives the ray's point at that depth, whose projection is the refined uv; the depth is sampled
// again there and the point re-projected (one fixed-point iteration). Disocclusions (what the
// moved eye sees behind a near edge) are stretched between the mesh's vertices, never garbage.
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
#ifdef POSITION
uniform vec3 u_shift;        // newest eye position in the rendered eye frame, metres
uniform vec2 u_depth_range;  // near, far of the projection the eye was rendered with, metres
uniform sampler2D u_depth;   // the eye's window depth in [0, 1]
#endif

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
    vec2 uv = to_uv(r.xy / -z);
#ifdef POSITION
    r.z = z;
    for (int i = 0; i < 2; i++) {
        // Distance along the rendered view axis of the surface seen at uv (GL perspective).
        float w = textureLod(u_depth, clamp(uv, 0.0, 1.0), 0.0).r;
        float n = u_depth_range.x, f = u_depth_range.y;
        float depth = 2.0 * n * f / ((f + n) - (2.0 * w - 1.0) * (f - n));
        // The newest eye's ray reaches that depth at p; seen from the rendered eye it is at uv.
        float s = max((-depth - u_shift.z) / r.z, 0.0);
        vec3 p = u_shift + s * r;
        uv = to_uv(p.xy / max(-p.z, 1e-6));
    }
#endif
    return uv;
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
