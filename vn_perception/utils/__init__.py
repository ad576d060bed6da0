"""Small shared helpers (devices, equivariance checks)."""
