"""Formats headset builders already hold: read them as vrkit profiles, write profiles back out.

One module per format: :mod:`~vrkit.interop.cardboard` (Cardboard viewer profiles: URL, QR,
DeviceParams bytes), :mod:`~vrkit.interop.northstar` (Project North Star v2),
:mod:`~vrkit.interop.monado` (Monado's north_star driver config),
:mod:`~vrkit.interop.lighthouse` (Valve lighthouse headset configs),
:mod:`~vrkit.interop.osvr` (OSVR display descriptors), :mod:`~vrkit.interop.openhmd`
(OpenHMD device properties), :mod:`~vrkit.interop.views` (view geometry JSON) and
:mod:`~vrkit.interop.hmdq` (hmdq's output). :mod:`~vrkit.interop.formats` picks the right one.

Layer: beside ``calibration`` and ``tracking``; it uses ``core``, ``math``, ``optics``, ``vision``
and ``measure``, never the GL, render, backend or CLI packages. See docs/interop.md.
"""
