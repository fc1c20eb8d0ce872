"""`make demo`: the whole job on an offline sample, and its stand-in checkpoint."""
