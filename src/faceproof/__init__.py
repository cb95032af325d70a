"""faceproof: self-hosted face biometrics server."""

__version__ = "0.1.0"
