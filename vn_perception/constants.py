"""Package-wide numerical constants."""

#: The one epsilon of the package. Vector norms and denominators smaller than EPS are clamped to EPS so
#: that zero vectors, duplicate points and coplanar inputs give finite outputs and finite gradients
#: (d||v||/dv is undefined at v = 0). 1e-6 is far below any meaningful feature norm in float32 and float64.
EPS = 1e-6
