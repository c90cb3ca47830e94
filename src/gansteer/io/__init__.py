"""Loading and saving: weights-only checkpoints, atomic writes, restricted unpickling."""
