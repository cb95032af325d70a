"""Insecure camera feeds from the SDK's device report (→ FEEDBACK_RETRY_INSECURE).

A virtual camera ("webcam spoofing", reference: "Injection attacks") shows the browser a
normal-looking video device whose frames come from software: OBS, ManyCam, a v4l2loopback
device fed by ffmpeg, Chromium's file-backed fake device. Browsers expose the device label
(``MediaDeviceInfo.label``), which the SDK puts in ``device.cameraLabel``; these products
name themselves there. A label that looks like a file path or a video file name means the
feed is read from a file. Matching is on whole words, case-insensitive, so a real camera
whose model name merely contains the letters (e.g. "Jobs HD") is not caught.

This catches the careless attacker only: a label is whatever the attacker's system says.
The server-chosen challenge (:mod:`faceproof.liveness.challenge`) is what makes injected
footage costly; this check is the cheap first filter the reference also applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from faceproof.crypto.envelope import DeviceInfo

# Products and drivers that present software video as a camera.
_VIRTUAL_CAMERA_WORDS = (
    r"obs",
    r"obs[- ]?virtual[- ]?camera?",
    r"manycam",
    r"v4l2loopback",
    r"akvcam",
    r"virtual",
    r"virtualcam",
    r"vcam",
    r"xsplit",
    r"snap camera",
    r"camtwist",
    r"splitcam",
    r"e2esoft",
    r"youcam",
    r"droidcam",
    r"iriun",
    r"ivcam",
    r"epoccam",
    r"camo",
    r"mmhmm",
    r"chromacam",
    r"nvidia broadcast",
    r"logi capture",
    r"dummy video device",
    r"fake[_ ]?(?:video|device|camera|webcam)?(?:[_ ]?\d+)?",
    r"loopback",
    r"screen capture",
    r"unity video capture",
    r"newtek ndi",
    r"ndi webcam",
    r"vmix",
    r"wirecast",
)
_VIRTUAL_RE = re.compile(r"(?<![a-z0-9])(?:" + "|".join(_VIRTUAL_CAMERA_WORDS) + r")(?![a-z0-9])")
# A file path or a video file as the label: a feed read from disk.
_PATH_RE = re.compile(
    r"(^|\s)(/dev/|/home/|/tmp/|/users/|[a-z]:\\|\\\\|\./|~/)"
    r"|\.(y4m|mjpe?g|mp4|webm|avi|mov|mkv|h264|yuv)(\s|$)"
)
_HEADLESS_RE = re.compile(r"headlesschrome|phantomjs|electron/\d|puppeteer|playwright|selenium")


@dataclass(frozen=True)
class DeviceVerdict:
    insecure: bool
    reason: str | None = None  # the first flag, for logs/ledger; never shown with caller data
    flags: tuple[str, ...] = ()  # every flag: the SDK's and the server's own, in that order


def server_flags(device: DeviceInfo) -> list[str]:
    """The server's own label and user-agent checks."""
    flags = []
    label = (device.cameraLabel or "").strip().lower()
    if label:
        if _VIRTUAL_RE.search(label):
            flags.append("virtual_camera_label")
        elif _PATH_RE.search(label):
            flags.append("file_camera_label")
    agent = (device.userAgent or "").lower()
    if agent and _HEADLESS_RE.search(agent):
        flags.append("automated_browser")
    return flags


def check_device(device: DeviceInfo, *, allow_emulated: bool = False) -> DeviceVerdict:
    """Whether the reported capture device is a software/virtual/emulated camera.

    Every flag (the SDK's ``device.flags`` and the server's own label/UA checks) makes the
    capture insecure, unless ``allow_emulated`` (FACEPROOF_ALLOW_EMULATED_CAMERA, for tests
    and development only): then the flags are reported but not fatal.
    """
    flags = tuple(dict.fromkeys([*device.flags, *server_flags(device)]))
    if not flags:
        return DeviceVerdict(False)
    return DeviceVerdict(not allow_emulated, flags[0], flags)
