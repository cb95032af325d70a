"""Head pose (yaw, pitch, roll) from the face mesh by PnP against MediaPipe's canonical face.

The 3-D reference is 22 vertices of MediaPipe's published canonical face model
(``face_geometry/data/canonical_face_model.obj``, centimetres, x to the viewer's right, y up,
z towards the viewer), chosen on rigid parts of the face (eye corners, brows, nose, lips,
chin, jaw, cheek contour); the model is left/right symmetric, so only one side is listed.
The camera is a pinhole with focal length = image width (what an unknown phone or webcam lens
approximates) and the principal point at the image centre. The rotation is then re-expressed
against the line of sight from the camera to the head (the minimal rotation taking the PnP
translation onto the optical axis): "looking at the camera" is what matters, and it stays
true for a face cropped out of a larger photo or off-centre in the frame, where the raw
camera-frame angles would add the viewing angle (~15° for a face a quarter of the frame
above centre).

Angles are in degrees, seen from the camera along that line of sight (x right, y down):

* yaw > 0: the face turned towards the image right (its nose points to the image right);
* pitch > 0: looking up (the nose points towards the image top);
* roll > 0: the head tilted clockwise as the image is displayed (the eye line falls to the
  image right).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from faceproof.face.record import F32, Pose

# index: (x, y, z) on the subject's right side (image left) or the midline.
_ONE_SIDE: dict[int, tuple[float, float, float]] = {
    1: (0.0, -1.126865, 7.475604),  # nose tip
    6: (0.0, 2.473255, 5.788627),  # nose bridge
    168: (0.0, 3.271027, 5.236015),  # between the eyes
    10: (0.0, 8.261778, 4.481535),  # top of the forehead
    0: (0.0, -3.406404, 5.979507),  # upper lip
    17: (0.0, -5.365123, 5.535441),  # lower lip
    199: (0.0, -7.942194, 5.181173),  # chin front
    152: (0.0, -9.403378, 4.264492),  # chin bottom
    33: (-4.445859, 2.663991, 3.173422),  # outer eye corner
    133: (-1.856432, 2.585245, 3.757904),  # inner eye corner
    105: (-3.986562, 5.109487, 4.466315),  # brow
    129: (-1.785794, -0.978284, 4.850470),  # nose wing
    61: (-2.456206, -4.342621, 4.283884),  # mouth corner
    172: (-5.940524, -6.223629, -0.631468),  # jaw
    234: (-7.664182, 0.673132, -2.435867),  # cheek contour
}
# Mirror partners on the other side (image right).
_MIRROR = {33: 263, 133: 362, 105: 334, 129: 358, 61: 291, 172: 397, 234: 454}


def _canonical() -> tuple[list[int], NDArray[np.float64]]:
    idx: list[int] = []
    pts: list[tuple[float, float, float]] = []
    for i, (x, y, z) in _ONE_SIDE.items():
        idx.append(i)
        pts.append((x, y, z))
        if i in _MIRROR:
            idx.append(_MIRROR[i])
            pts.append((-x, y, z))
    # To the camera's axes: y down, z away from the camera, so a frontal face has R = I.
    obj = np.array(pts, dtype=np.float64) * np.array([1.0, -1.0, -1.0])
    return idx, obj


POSE_INDICES, CANONICAL_POINTS = _canonical()


def pose_from_rotation(r: NDArray[np.float64]) -> Pose:
    """Yaw/pitch/roll (degrees, conventions above) of an object-to-camera rotation matrix.

    ``r = Rz(roll) · Ry(-yaw) · Rx(-pitch)``: pitch about the head's ear-to-ear axis, yaw
    about the vertical, roll last about the optical axis, so turning the picture in its
    plane changes roll only (camera-frame yaw/pitch would trade places as the image turns).
    """
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, float(r[2, 0])))))
    pitch = -math.degrees(math.atan2(float(r[2, 1]), float(r[2, 2])))
    roll = math.degrees(math.atan2(float(r[1, 0]), float(r[0, 0])))
    return Pose(yaw=yaw, pitch=pitch, roll=roll)


def _towards_optical_axis(direction: NDArray[np.float64]) -> NDArray[np.float64]:
    """The minimal rotation taking the unit vector ``direction`` onto the camera's +z axis."""
    axis = np.cross(direction, [0.0, 0.0, 1.0])
    sin = float(np.linalg.norm(axis))
    angle = math.atan2(sin, float(direction[2]))
    if sin < 1e-12:
        return np.eye(3)
    r, _ = cv2.Rodrigues(axis / sin * angle)
    return np.asarray(r, dtype=np.float64)


def estimate_pose(mesh: F32, image_size: tuple[int, int]) -> Pose:
    """Head pose from a (468, ≥2) mesh in pixels; ``image_size`` is ``(width, height)``.

    Raises ValueError when PnP fails (degenerate points), which a sane mesh never gives.
    """
    w, h = image_size
    f = float(w)
    camera = np.array([[f, 0.0, w / 2], [0.0, f, h / 2], [0.0, 0.0, 1.0]])
    image_pts = np.ascontiguousarray(mesh[POSE_INDICES, :2], dtype=np.float64)
    ok, rvec, tvec = cv2.solvePnP(
        CANONICAL_POINTS, image_pts, camera, None, flags=cv2.SOLVEPNP_SQPNP
    )
    if not ok:
        raise ValueError("solvePnP failed on the face mesh")
    r, _ = cv2.Rodrigues(rvec)
    t = np.asarray(tvec, dtype=np.float64).reshape(3)
    sight = _towards_optical_axis(t / np.linalg.norm(t))
    return pose_from_rotation(sight @ np.asarray(r, dtype=np.float64))
