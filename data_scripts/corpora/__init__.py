"""Emotion corpora: one module or folder per corpus, folders, manifests, one interface, builder."""
