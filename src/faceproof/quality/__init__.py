"""Capture quality (``data.quality``): one small measure per module, OFIQ style.

Build a :class:`QualitySession` once per face and pass it to :func:`assess_quality` (and to
:func:`faceproof.icao.assess_icao`, which shares its cached work).
"""

from faceproof.quality.report import QualityReport, assess_quality
from faceproof.quality.session import QualitySession

__all__ = ["QualityReport", "QualitySession", "assess_quality"]
