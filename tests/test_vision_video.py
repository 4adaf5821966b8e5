"""The one video reader and writer (vrkit.vision.video, PyAV)."""

from fractions import Fraction

import av
import numpy as np
import pytest

from vrkit.core.errors import DataError, InputError
from vrkit.vision.video import VideoReader, VideoWriter, read_timestamps

# Irregular frame intervals (a variable-rate recording), 0.1 ms multiples, starting at 1 s.
STEPS_NS = [4_000_000, 4_100_000, 3_800_000, 5_000_000, 4_200_000, 3_900_000]
PTS_NS = 1_000_000_000 + np.cumsum([0] + STEPS_NS * 8)


def write_with_pyav(path, pts_ns, size=(64, 48), noise=0):
    """Write a clip with PyAV directly (not through VideoWriter): frame i is grey level 4i."""
    w, h = size
    rng = np.random.default_rng(5)
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=240)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.bit_rate = 20_000_000
        s.time_base = s.codec_context.time_base = Fraction(1, 10000)
        for i, t in enumerate(pts_ns):
            img = np.full((h, w, 3), 4 * i, np.uint8)
            if noise:
                img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = int(t) // 100_000
            f.time_base = Fraction(1, 10000)
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    return path


def test_variable_frame_rate_timestamps_are_exact(tmp_path, capfd):
    path = write_with_pyav(tmp_path / "vfr.mp4", PTS_NS)
    with VideoReader(path) as reader:
        assert (reader.width, reader.height) == (64, 48)
        frames = list(reader)
    assert [f.index for f in frames] == list(range(len(PTS_NS)))
    assert [f.pts_ns for f in frames] == [int(t) for t in PTS_NS]
    assert frames[0].image.shape == (48, 64) and frames[0].image.dtype == np.uint8
    # Frames come in presentation order: the grey level rises with the index.
    levels = np.array([float(f.image.mean()) for f in frames])
    assert np.abs(levels - 4 * np.arange(len(frames))).max() < 2.0
    assert reader.gaps == []
    assert capfd.readouterr().err == ""


def test_gaps_and_non_increasing_times_are_reported(tmp_path):
    pts = [int(t) for t in PTS_NS]
    dropped = pts[:20] + pts[23:]  # three frames lost: a 12 ms step among 4 ms ones
    path = write_with_pyav(tmp_path / "gap.mp4", dropped)
    t, gaps = read_timestamps(path)
    assert t.tolist() == dropped
    assert len(gaps) == 1
    assert gaps[0].index == 20 and gaps[0].step_ns == pts[23] - pts[19]
    assert 3_800_000 <= gaps[0].expected_ns <= 5_000_000


def test_writer_round_trip_and_atomic_rename(tmp_path):
    path = tmp_path / "clip.mp4"
    rng = np.random.default_rng(1)
    with VideoWriter(path, (64, 48), 240, codec="mp4v", time_base=Fraction(1, 10000)) as w:
        for i, t in enumerate(PTS_NS):
            w.write(
                rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
                if i % 2
                else np.zeros((48, 64), np.uint8),
                int(t),
            )
        assert w.tmp.exists() and not path.exists()
    assert path.exists() and not w.tmp.exists()
    t, _ = read_timestamps(path)
    assert t.tolist() == [int(v) for v in PTS_NS]
    # Constant rate when no times are given: frame i at i / fps.
    with VideoWriter(tmp_path / "cfr.avi", (32, 32), 120, codec="MJPG") as w:
        for _ in range(10):
            w.write(np.zeros((32, 32, 3), np.uint8))
    t, _ = read_timestamps(tmp_path / "cfr.avi")
    assert t.tolist() == [round(i * 1e9 / 120) for i in range(10)]


def test_writer_leaves_nothing_under_the_final_name_on_error(tmp_path):
    path = tmp_path / "bad.mp4"
    with pytest.raises(
        InputError,
        match=r"^expected a \(48, 64\) or \(48, 64, 3\) uint8 frame, got float64 \(48, 64\)$",
    ):
        with VideoWriter(path, (64, 48), 30) as w:
            w.write(np.zeros((48, 64), np.uint8))
            w.write(np.zeros((48, 64)))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match=r"does not come after the previous frame's"):
        with VideoWriter(path, (64, 48), 30) as w:
            w.write(np.zeros((48, 64), np.uint8), 1_000_000)
            w.write(np.zeros((48, 64), np.uint8), 1_000_000)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match=r"^unknown video encoder 'nope'"):
        VideoWriter(path, (64, 48), 30, codec="nope")


def test_truncated_and_corrupt_files_are_one_line(tmp_path, capfd):
    path = write_with_pyav(tmp_path / "whole.mp4", PTS_NS)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # an mp4's index is written last: cut, it is gone
    with pytest.raises(DataError) as err:
        VideoReader(cut)
    msg = str(err.value)
    assert msg.startswith(f"cannot read {cut} as a video: ") and "\n" not in msg
    assert msg.endswith("check that the file is a complete video in a codec FFmpeg decodes")
    # Damage the middle of the frame data (mdat) of a clip of noise frames.
    data = write_with_pyav(tmp_path / "noise.mp4", PTS_NS, size=(160, 120), noise=1).read_bytes()
    bad = tmp_path / "bad.mp4"
    b = bytearray(data)
    start = data.index(b"mdat") + len(data) // 3
    b[start : start + 20000] = bytes(20000)
    bad.write_bytes(bytes(b))
    with pytest.raises(DataError) as err, VideoReader(bad) as reader:
        n = sum(1 for _ in reader)
        pytest.fail(f"decoded {n} frames of a damaged file without an error")
    msg = str(err.value)
    assert msg.startswith(f"cannot decode {bad} after frame ") and "\n" not in msg
    assert msg.endswith("the file is truncated or damaged; re-encode or re-record it")
    assert capfd.readouterr().err == ""  # FFmpeg's own log lines stay silent
    with pytest.raises(InputError, match=r"^video file not found: .*nothing\.mp4; check the path$"):
        VideoReader(tmp_path / "nothing.mp4")


def test_tracking_video_files_carry_exact_presentation_times(tmp_path):
    from vrkit.tracking.sources import VideoFileSource

    pts = [int(t) for t in PTS_NS]
    a = write_with_pyav(tmp_path / "a.mp4", pts)
    b = write_with_pyav(tmp_path / "b.mp4", pts[:10])
    with VideoFileSource([a, b]) as src:
        sets = list(src)
    assert len(sets) == len(pts)
    assert [fs.t_ns for fs in sets] == pts
    assert [fs.camera_t_ns[1] for fs in sets[:10]] == pts[:10]
    assert sets[10].images[1] is None and sets[10].errors[1] == "b: video ended"
    assert sets[0].images[0].shape == (48, 64)


def test_latency_video_reports_lost_frames(tmp_path):
    from vrkit.measure.latency.simulate import simulate_video
    from vrkit.measure.latency.video import analyze_video

    src = simulate_video(tmp_path / "v.mp4", latency_s=0.02, seed=2, duration_s=3.0)
    lost = tmp_path / "lost.mp4"
    with VideoReader(src, colour="bgr") as r, VideoWriter(lost, (r.width, r.height), 240) as w:
        for f in r:
            if not 300 <= f.index < 303:  # three frames lost at 1.25 s
                w.write(f.image, f.pts_ns)
    res = analyze_video(lost)
    gap = [m for m in res.warnings if "gap(s) in the container's frame times" in m]
    assert gap == [
        "1 gap(s) in the container's frame times (the first before frame 300: 16.667 ms where "
        "4.167 ms is usual): frames were lost"
    ]
    assert res.frames == 717 and abs(res.latency_ms - 20.0) < 1.5
