"""openmem: one async memory layer for AI applications, speaking OMP 0.1."""
