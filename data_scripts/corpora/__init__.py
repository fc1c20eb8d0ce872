"""Emotion corpora beside RAVDESS: one facts module per corpus, folders, manifests, one builder."""
