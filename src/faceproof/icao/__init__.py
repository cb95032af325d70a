"""ICAO metrics (``icao_data``), the ``is_compliant`` rule and the ENROL/VERIFY gates.

Measures read a shared :class:`faceproof.quality.QualitySession`.
"""

from faceproof.icao.enrol import MESSAGES, QualityMode, enrol_check
from faceproof.icao.report import IcaoReport, assess_icao, is_compliant

__all__ = ["MESSAGES", "IcaoReport", "QualityMode", "assess_icao", "enrol_check", "is_compliant"]
