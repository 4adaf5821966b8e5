#version 330 core
// Unlit: the material colour (times vertex colour and texture). Lit: Lambert with one
// directional light plus ambient, enough to read shapes; no specular, no shadows.
// Everything here is linear light: the texture is an sRGB texture (decoded when sampled), the
// colours are linear, and the sRGB target encodes the output (GL_FRAMEBUFFER_SRGB).
in vec3 v_normal;
in vec4 v_color;
in vec2 v_uv;

uniform vec4 u_color;
uniform int u_lit;
uniform int u_textured;
uniform sampler2D u_texture;
uniform vec3 u_light_dir;   // towards the light, world space, unit length
uniform float u_ambient;
uniform int u_alpha_mode;   // 0 opaque (alpha ignored), 1 mask (cut at u_alpha_cutoff), 2 blend
uniform float u_alpha_cutoff;

out vec4 frag_color;

void main() {
    vec4 base = u_color * v_color;
    if (u_textured != 0) {
        base *= texture(u_texture, v_uv);
    }
    if (u_alpha_mode == 1 && base.a < u_alpha_cutoff) {
        discard;
    }
    if (u_lit != 0) {
        // A back face (double-sided material) is lit from its own side.
        vec3 n = normalize(gl_FrontFacing ? v_normal : -v_normal);
        float diffuse = max(dot(n, u_light_dir), 0.0);
        base.rgb *= u_ambient + (1.0 - u_ambient) * diffuse;
    }
    frag_color = vec4(base.rgb, u_alpha_mode == 2 ? base.a : 1.0);
}
