"""Linear probes on frozen encoder features: the features cached once, the probe trained."""
