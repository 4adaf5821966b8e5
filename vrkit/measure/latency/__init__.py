"""Motion-to-photon latency: pipeline timing, sensor logs, video, and a rig simulator.

Modules: :mod:`.timing` (per-frame pipeline timestamps), :mod:`.sensorlog` (``t_s,motion,light``
logs: reading, validation, gap-aware uniform grids), :mod:`.logformats` (other rigs' logs:
rpavlik/Latency-Test; format detection), :mod:`.preprocess` (clipping, zero-phase low-pass,
display refresh and persistence), :mod:`.analysis` (steady-state latency and its significance
test), :mod:`.events` (onset and flash latency), :mod:`.simulate` (sensor logs with a known
latency), :mod:`.video` (high-speed video of a physical and a rendered marker),
:mod:`.serialport` (live logs from a microcontroller over USB serial). None of them imports
OpenGL; only :mod:`.serialport`, an edge, reads the host clock (for its deadlines).
"""
