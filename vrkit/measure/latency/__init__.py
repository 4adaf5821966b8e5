"""Motion-to-photon latency: pipeline timing, sensor logs, video, and a rig simulator.

Modules: :mod:`.timing` (per-frame pipeline timestamps), :mod:`.sensorlog` (``t_s,motion,light``
logs), :mod:`.analysis` (cross-correlation, onset and flash latency), :mod:`.simulate` (sensor
logs with a known latency), :mod:`.video` (high-speed video of a physical and a rendered
marker), :mod:`.serialport` (live logs from a microcontroller over USB serial). None of them
imports OpenGL; only :mod:`.serialport`, an edge, reads the host clock (for its deadlines).
"""
