"""What the liveness decision reads of an opened SDK capture.

The web layer opens the envelope, checks every frame's header and decodes frames on demand
(``api/capture.py``); liveness needs only the payload and the frames' sizes and pixels, so it
states that here and never imports the web layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from faceproof.crypto.envelope import CapturePayload
from faceproof.face.record import U8


class Frame(Protocol):
    """One frame: its upright size, and its RGB pixels (decoded when first read)."""

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    @property
    def rgb(self) -> U8: ...


class Image(Protocol):
    @property
    def rgb(self) -> U8: ...


class SdkCapture(Protocol):
    """An opened capture: the decrypted payload, its frames in payload order, the main one."""

    @property
    def payload(self) -> CapturePayload: ...

    @property
    def frames(self) -> Sequence[Frame]: ...

    @property
    def main(self) -> Image: ...
