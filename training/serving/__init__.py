"""Serving a saved classifier live: the HTTP API with its web page, and the audio stream reader."""
