#version 330 core
// Unlit: the material colour (times vertex colour and texture). Lit: Lambert with one
// directional light plus ambient, enough to read shapes; no specular, no shadows.
in vec3 v_normal;
in vec4 v_color;
in vec2 v_uv;

uniform vec4 u_color;
uniform int u_lit;
uniform int u_textured;
uniform sampler2D u_texture;
uniform vec3 u_light_dir;   // towards the light, world space, unit length
uniform float u_ambient;

out vec4 frag_color;

void main() {
    vec4 base = u_color * v_color;
    if (u_textured != 0) {
        base *= texture(u_texture, v_uv);
    }
    if (u_lit != 0) {
        float diffuse = max(dot(normalize(v_normal), u_light_dir), 0.0);
        base.rgb *= u_ambient + (1.0 - u_ambient) * diffuse;
    }
    frag_color = base;
}
