"""1:1 face matching: embeddings, FAR-calibrated security levels and the similarity score."""
