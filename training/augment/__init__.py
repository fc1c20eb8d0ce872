"""Corruptions of speech shared by training-time augmentation and the robustness evaluation:
noise at a chosen SNR, speed, gain, reverberation, telephone bandwidth and MP3 coding."""
