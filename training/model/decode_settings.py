"""The decode settings saved with a model: training records how its data was decoded, predict
reads them back, so a file is downmixed and resampled exactly as the training data was."""

from __future__ import annotations

import logging

from data_scripts.common.audio_decoding import DEFAULT_SETTINGS, DecodeSettings

logger = logging.getLogger(__name__)

# The key of preprocessor_config.json under which training records its decode settings.
DECODING_KEY = "audio_decoding"


def model_decode_settings(feature_extractor) -> DecodeSettings:
    """The settings the training script saved with the model; without them, the defaults at the
    feature extractor's rate. ValueError when the saved rate is not the extractor's."""
    rate = feature_extractor.sampling_rate
    recorded = getattr(feature_extractor, DECODING_KEY, None)
    if recorded is None:
        return DecodeSettings(**{**DEFAULT_SETTINGS.as_dict(), "target_sampling_rate": rate})
    settings = DecodeSettings.from_dict(recorded)
    if settings.target_sampling_rate != rate:
        raise ValueError(
            f"the model's {DECODING_KEY} says {settings.target_sampling_rate} Hz but its feature "
            f"extractor expects {rate} Hz: the model folder is inconsistent"
        )
    return settings


def record_decode_settings(feature_extractor, settings: DecodeSettings | None) -> None:
    """Store the training data's decode settings in the feature extractor, which save_pretrained
    writes into preprocessor_config.json (an extra key that transformers keeps and ignores)."""
    if settings is None:
        logger.warning(
            "the prepared data does not say how it was decoded: predict will use the defaults"
        )
        return
    setattr(feature_extractor, DECODING_KEY, settings.as_dict())
