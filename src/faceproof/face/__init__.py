"""The face as data, below the models and every stage that reads it.

``record`` (the :class:`~faceproof.face.record.FaceRecord` each stage fills in, and the model
interfaces), ``pose`` (head pose from the mesh) and ``resample`` (OpenCV-exact resize
operators). Models, quality, ICAO and the pipeline all import these, so they import nothing
of faceproof's own.
"""
