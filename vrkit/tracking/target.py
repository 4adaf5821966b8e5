"""Tracking targets: constellations of known 3D points (ArUco marker corners or LEDs).

A target is rigid and given in its own frame: the head frame (``frame="head"``, outside-in: the
markers or LEDs sit on the headset) or the world frame (``frame="world"``, inside-out: a marker
map of the room). Axes follow vrkit (+y up, -z forward), metres.

ArUco corners are listed in OpenCV's order as seen from the front of the marker: top-left,
top-right, bottom-right, bottom-left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vrkit.core.documents import read_document
from vrkit.core.errors import ProfileError
from vrkit.core.outputs import write_json

F64 = NDArray[np.float64]
TARGET_SCHEMA = "vrkit.tracking.target/1"


def marker_corners(center: ArrayLike, normal: ArrayLike, up: ArrayLike, size: float) -> F64:
    """Corners (4, 3) of a square marker in OpenCV order, seen from the side ``normal`` points to.

    Args:
        center: (3,) marker centre in metres.
        normal: (3,) outward normal of the printed face.
        up: (3,) direction of the marker's top edge (made orthogonal to ``normal``).
        size: Side length in metres (the black square, border included).
    """
    c = np.asarray(center, dtype=np.float64)
    n = np.asarray(normal, dtype=np.float64)
    n = n / np.linalg.norm(n)
    u = np.asarray(up, dtype=np.float64)
    u = u - n * (u @ n)
    u /= np.linalg.norm(u)
    r = np.cross(u, n)
    h = size / 2
    return np.array([c - r * h + u * h, c + r * h + u * h, c + r * h - u * h, c - r * h - u * h])


@dataclass
class Target:
    """A rigid constellation of points to track.

    Attributes:
        name: Label used in logs.
        kind: ``"aruco"`` (markers with IDs) or ``"led"`` (anonymous bright blobs).
        frame: ``"head"`` (outside-in) or ``"world"`` (inside-out marker map).
        dictionary: ArUco dictionary name, e.g. ``"DICT_4X4_50"`` (ArUco only).
        markers: Marker id -> (4, 3) corners in metres (ArUco only).
        leds: (N, 3) LED centres in metres (LED only).
        normals: (N, 3) outward unit normals of LEDs, or one per marker (ArUco).
        led_radius: LED radius in metres (LED only; used by the renderer and blob gating).
        view_cone_deg: Half-angle of the cone in which an LED (or marker) is visible.
    """

    name: str
    kind: str
    frame: str = "head"
    dictionary: str = "DICT_4X4_50"
    markers: dict[int, F64] = field(default_factory=dict)
    leds: F64 = field(default_factory=lambda: np.zeros((0, 3)))
    normals: F64 = field(default_factory=lambda: np.zeros((0, 3)))
    led_radius: float = 0.003
    view_cone_deg: float = 75.0

    def __post_init__(self) -> None:
        if self.kind not in ("aruco", "led"):
            raise ProfileError(
                f"target {self.name!r}: kind must be 'aruco' or 'led', not {self.kind!r}"
            )
        if self.frame not in ("head", "world"):
            raise ProfileError(
                f"target {self.name!r}: frame must be 'head' or 'world', not {self.frame!r}"
            )
        self.markers = {int(k): np.asarray(v, dtype=np.float64) for k, v in self.markers.items()}
        for k, v in self.markers.items():
            if v.shape != (4, 3):
                raise ProfileError(
                    f"target {self.name!r}: marker {k} needs (4, 3) corners, got {v.shape}"
                )
        self.leds = np.asarray(self.leds, dtype=np.float64).reshape(-1, 3)
        self.normals = np.asarray(self.normals, dtype=np.float64).reshape(-1, 3)
        if self.kind == "aruco":
            if not self.markers:
                raise ProfileError(f"target {self.name!r}: an ArUco target needs markers")
            if len(self.normals) == 0:
                self.normals = np.array([_face_normal(c) for c in self.markers.values()])
        else:
            if len(self.leds) < 4:
                raise ProfileError(
                    f"target {self.name!r}: an LED target needs >= 4 LEDs, got {len(self.leds)}"
                )
            if len(self.normals) != len(self.leds):
                raise ProfileError(
                    f"target {self.name!r}: {len(self.leds)} LEDs but {len(self.normals)} normals"
                )
        if len(self.normals):
            length = np.linalg.norm(self.normals, axis=1, keepdims=True)
            short = np.flatnonzero(~(length[:, 0] > 1e-9))
            if short.size:
                i = int(short[0])
                raise ProfileError(
                    f"target {self.name!r}: normal {i} is {self.normals[i].tolist()}, which has "
                    "no direction (a marker with coincident corners, or a zero LED normal)"
                )
            self.normals = self.normals / length

    @property
    def marker_ids(self) -> NDArray[np.int64]:
        """Sorted marker ids (M,)."""
        return np.array(sorted(self.markers), dtype=np.int64)

    def points(self) -> F64:
        """All model points: (4M, 3) marker corners in id order, or (N, 3) LEDs."""
        if self.kind == "led":
            return self.leds
        return np.concatenate([self.markers[i] for i in self.marker_ids])

    def point_normals(self) -> F64:
        """Outward normal per model point, aligned with :meth:`points`."""
        if self.kind == "led":
            return self.normals
        order = {k: j for j, k in enumerate(self.markers)}
        return np.repeat(self.normals[[order[i] for i in self.marker_ids]], 4, axis=0)

    def to_dict(self) -> dict:
        """JSON-friendly form."""
        d: dict = {
            "schema": TARGET_SCHEMA,
            "name": self.name,
            "kind": self.kind,
            "frame": self.frame,
            "view_cone_deg": self.view_cone_deg,
        }
        if self.kind == "aruco":
            d["dictionary"] = self.dictionary
            d["markers"] = {str(k): v.tolist() for k, v in sorted(self.markers.items())}
        else:
            d["leds"] = self.leds.tolist()
            d["normals"] = self.normals.tolist()
            d["led_radius"] = self.led_radius
        return d

    @classmethod
    def from_dict(cls, data: dict) -> Target:
        """Inverse of :meth:`to_dict`."""
        if data.get("schema") != TARGET_SCHEMA:
            raise ProfileError(
                f"target schema is {data.get('schema')!r}, expected {TARGET_SCHEMA!r}"
            )
        try:
            return cls(
                name=data["name"],
                kind=data["kind"],
                frame=data.get("frame", "head"),
                dictionary=data.get("dictionary", "DICT_4X4_50"),
                markers={int(k): v for k, v in data.get("markers", {}).items()},
                leds=data.get("leds", np.zeros((0, 3))),
                normals=data.get("normals", np.zeros((0, 3))),
                led_radius=float(data.get("led_radius", 0.003)),
                view_cone_deg=float(data.get("view_cone_deg", 75.0)),
            )
        except KeyError as exc:
            raise ProfileError(f"target misses key {exc}") from exc

    def save(self, path: str | Path) -> None:
        """Write the target as JSON."""
        write_json(path, self.to_dict(), indent=1)

    @classmethod
    def load(cls, path: str | Path) -> Target:
        """Read a target JSON file; errors name the file."""
        path = Path(path)
        data = read_document(path, "target", ProfileError)
        try:
            return cls.from_dict(data)
        except ProfileError as exc:
            raise ProfileError(f"target file {str(path)!r}: {exc.message}", exc.hint) from exc


def _face_normal(corners: F64) -> F64:
    """Outward normal (3,) of a marker from its corners (counter-clockwise seen from the front)."""
    n = np.cross(corners[1] - corners[0], corners[3] - corners[0])
    return -n / np.linalg.norm(n)


# Headset shell used by the example targets: a box 0.20 wide, 0.12 high, 0.12 deep (metres),
# its front face at z = -0.10 (the head looks down -z), centred on y = 0.
_HX, _HY, _ZF, _ZB = 0.10, 0.06, -0.10, 0.02


def headset_aruco(marker_size: float = 0.045, dictionary: str = "DICT_4X4_50") -> Target:
    """Example outside-in target: 10 ArUco markers on the faces of a headset-sized box."""
    s = marker_size
    zc = 0.5 * (_ZF + _ZB)
    faces = [  # (center, normal, up)
        ((-0.05, 0.0, _ZF), (0, 0, -1), (0, 1, 0)),
        ((0.05, 0.0, _ZF), (0, 0, -1), (0, 1, 0)),
        ((-_HX, 0.0, zc - 0.028), (-1, 0, 0), (0, 1, 0)),
        ((-_HX, 0.0, zc + 0.028), (-1, 0, 0), (0, 1, 0)),
        ((_HX, 0.0, zc - 0.028), (1, 0, 0), (0, 1, 0)),
        ((_HX, 0.0, zc + 0.028), (1, 0, 0), (0, 1, 0)),
        ((-0.05, _HY, zc), (0, 1, 0), (0, 0, -1)),
        ((0.05, _HY, zc), (0, 1, 0), (0, 0, -1)),
        ((-0.05, 0.0, _ZB), (0, 0, 1), (0, 1, 0)),
        ((0.05, 0.0, _ZB), (0, 0, 1), (0, 1, 0)),
    ]
    markers = {i: marker_corners(c, n, u, s) for i, (c, n, u) in enumerate(faces)}
    return Target("headset-aruco", "aruco", "head", dictionary, markers, view_cone_deg=80.0)


def headset_leds(radius: float = 0.003) -> Target:
    """Example outside-in LED constellation: 30 LEDs on a headset-sized box, irregularly placed.

    The layout is fixed (seeded) and irregular so that no two sub-patterns look alike, as on
    constellation-tracked headsets.
    """
    rng = np.random.default_rng(8)
    pts, nrm = [], []
    zc = 0.5 * (_ZF + _ZB)
    # front: 12 LEDs, sides: 5 each, top: 4, back: 4
    for count, normal, sample in (
        (12, (0, 0, -1), lambda u, v: (u * 0.09, v * 0.05, _ZF)),
        (5, (-1, 0, 0), lambda u, v: (-_HX, v * 0.05, zc + u * 0.05)),
        (5, (1, 0, 0), lambda u, v: (_HX, v * 0.05, zc + u * 0.05)),
        (4, (0, 1, 0), lambda u, v: (u * 0.09, _HY, zc + v * 0.05)),
        (4, (0, 0, 1), lambda u, v: (u * 0.09, v * 0.05, _ZB)),
    ):
        chosen: list[tuple[float, float]] = []
        while len(chosen) < count:
            u, v = rng.uniform(-1, 1, 2)
            if all(np.hypot(u - a, v - b) > 0.45 for a, b in chosen):
                chosen.append((u, v))
        for u, v in chosen:
            pts.append(sample(u, v))
            nrm.append(normal)
    return Target(
        "headset-leds",
        "led",
        "head",
        leds=np.array(pts),
        normals=np.array(nrm),
        led_radius=radius,
        view_cone_deg=70.0,
    )


def room_marker_map(marker_size: float = 0.15, dictionary: str = "DICT_4X4_50") -> Target:
    """Example inside-out target: 16 ArUco markers on the walls of a 4 m x 4 m room (world frame).

    Markers hang at heights 1.2-1.9 m on the four walls at x = +-2 and z = +-2, facing inwards.
    """
    markers = {}
    k = 0
    for wall_normal, wall_center in (
        ((0, 0, 1), (0, 0, -2.0)),
        ((-1, 0, 0), (2.0, 0, 0)),
        ((0, 0, -1), (0, 0, 2.0)),
        ((1, 0, 0), (-2.0, 0, 0)),
    ):
        n = np.array(wall_normal, dtype=float)
        along = np.cross([0, 1, 0], n)
        for j, (a, h) in enumerate(((-0.9, 1.3), (-0.3, 1.8), (0.3, 1.25), (0.9, 1.75))):
            c = np.array(wall_center) + along * a + np.array([0, h + 0.02 * j, 0])
            markers[k] = marker_corners(c, n, (0, 1, 0), marker_size)
            k += 1
    return Target("room-map", "aruco", "world", dictionary, markers, view_cone_deg=85.0)
