"""Head pose: how far the face is turned from the camera, against the configured limits.

raw: the largest of |yaw|/yaw_limit, |pitch|/pitch_limit, |roll|/roll_limit; ≤ 1 passes
``head_pose_check``. The score is 50 at the limit and falls off beyond it.
"""

from __future__ import annotations

from faceproof.face.record import Pose
from faceproof.quality.config import MEASURES, POSE_LIMITS, PoseLimits
from faceproof.quality.measure import MeasureResult
from faceproof.quality.scale import Sigmoid
from faceproof.quality.session import QualitySession


def pose_excess(pose: Pose, limits: PoseLimits = POSE_LIMITS) -> float:
    """Largest angle as a fraction of its limit."""
    return max(
        abs(pose.yaw) / limits.yaw,
        abs(pose.pitch) / limits.pitch,
        abs(pose.roll) / limits.roll,
    )


class HeadPose:
    def __init__(self, curve: Sigmoid | None = None, limits: PoseLimits = POSE_LIMITS) -> None:
        self.curve = curve or MEASURES["head_pose"]
        self.limits = limits

    def measure(self, s: QualitySession) -> MeasureResult:
        raw = pose_excess(s.pose, self.limits)
        return MeasureResult(raw, self.curve(raw))

    def check(self, s: QualitySession) -> bool:
        return pose_excess(s.pose, self.limits) <= 1.0
