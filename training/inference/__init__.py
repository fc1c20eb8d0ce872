"""Using a saved classifier: predict, its inputs and outputs."""
