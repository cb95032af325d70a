"""ICAO metrics (``icao_data``), the ``is_compliant`` rule and the ENROL/VERIFY gates.

Measures read a shared :class:`faceproof.quality.QualitySession`.
"""

from faceproof.icao.enrol import MESSAGES, EnrolProblem, QualityMode, enrol_check, enrol_problem
from faceproof.icao.report import IcaoReport, assess_icao, is_compliant

__all__ = [
    "MESSAGES",
    "EnrolProblem",
    "IcaoReport",
    "QualityMode",
    "assess_icao",
    "enrol_check",
    "enrol_problem",
    "is_compliant",
]
