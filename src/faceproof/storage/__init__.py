"""Small storage helpers shared by the stores (nonces, challenges)."""
