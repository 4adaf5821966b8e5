import numpy as np
import pytest

from vrkit.core.errors import GLError, ShaderError
from vrkit.gl.shaders import load_source


def test_clear_color_reads_back(gl):
    fb = gl.framebuffer(8, 4)
    gl.bind_framebuffer(fb.fbo, (0, 0, 8, 4))
    gl.clear((1.0, 0.5, 0.0, 1.0))
    img = fb.read_rgba()
    assert img.shape == (4, 8, 4)
    np.testing.assert_array_equal(img[0, 0], [255, 128, 0, 255])
    fb.release()


def test_texture_upload_blit_readback_keeps_top_row_first(gl):
    img = np.zeros((4, 6, 4), np.uint8)
    img[0, :] = [255, 0, 0, 255]  # top row red
    img[:, 0] = [0, 255, 0, 255]  # left column green
    tex = gl.texture(6, 4, data=img, filter=0x2600)  # GL_NEAREST
    fb = gl.framebuffer(6, 4, depth=False)
    prog = gl.program("blit.vert", "blit.frag")
    gl.bind_framebuffer(fb.fbo, (0, 0, 6, 4))
    gl.set_state(depth_test=False)
    prog.use()
    prog.set_int("u_image", 0)
    tex.bind(0)
    gl.draw_fullscreen_triangle()
    np.testing.assert_array_equal(fb.read_rgba(), img)
    for obj in (prog, fb, tex):
        obj.release()


def test_release_is_idempotent_and_use_after_release_raises(gl):
    fb = gl.framebuffer(4, 4)
    n = gl.live_objects
    fb.release()
    fb.release()
    assert gl.live_objects < n
    with pytest.raises(GLError, match="after release"):
        fb.read_rgba()


def test_context_release_twice_releases_everything():
    from vrkit.gl.egl import create_headless_context

    ctx = create_headless_context()
    ctx.framebuffer(16, 16)
    ctx.program("blit.vert", "blit.frag")
    assert ctx.live_objects >= 3
    ctx.release()
    ctx.release()
    assert ctx.live_objects == 0


def test_shader_compile_error_names_file_and_line(gl, tmp_path):
    bad = tmp_path / "broken.frag"
    bad.write_text(
        "#version 330 core\nout vec4 c;\nvoid main() {\n  c = vec4(1.0) + undefined_thing;\n}\n"
    )
    with pytest.raises(ShaderError) as info:
        gl.program("blit.vert", str(bad))
    msg = str(info.value)
    assert f"{bad}:4:" in msg and "undefined_thing" in msg


def test_defines_are_injected_after_version_keeping_line_numbers(tmp_path):
    src = tmp_path / "x.frag"
    src.write_text("// comment\n#version 330 core\nvoid main() {}\n")
    text, _ = load_source(str(src), {"FOO": 3, "BAR": True})
    lines = text.splitlines()
    assert lines[1] == "#version 330 core"
    assert "#define FOO 3" in lines and "#define BAR" in lines
    assert lines[lines.index("void main() {}") - 1] == "#line 3"


def test_missing_shader_file_is_named(gl):
    with pytest.raises(ShaderError, match=r"nope\.frag"):
        gl.program("blit.vert", "nope.frag")
