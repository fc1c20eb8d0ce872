"""Training-time augmentation (`--augment`): each training clip, on the fly in the collator, may
get a speed change, reverberation, telephone bandwidth, a gain and additive noise, each with its
own probability (YAML or flags: augment_noise, augment_speed, ...).

Randomness: the collator draws one seed per batch from torch's generator, which the Trainer
seeds from --seed and DataLoader re-seeds in every worker at every epoch, so a run is
reproducible from its seed and each epoch hears each clip differently. Validation and test use
a collator without an augmenter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.augment import transforms
from training.augment.audio_folder import AudioFolder

FROZEN_PROBE_REFUSAL = (
    "--augment: the frozen-encoder probe computes each clip's features once and caches them, so "
    "it cannot augment; add --cache_frozen_features false (the encoder runs every step, on "
    "augmented audio) or leave --augment out"
)
PROBABILITY_FLAGS = (
    "augment_noise",
    "augment_speed",
    "augment_gain",
    "augment_reverb",
    "augment_telephone",
)


@dataclass
class AugmentSettings:
    """Per-transform probabilities and ranges (the defaults are the documented default recipe)."""

    noise: float = 0.5
    speed: float = 0.5
    gain: float = 0.3
    reverb: float = 0.3
    telephone: float = 0.1
    min_snr_db: float = 5.0
    max_snr_db: float = 20.0
    max_gain_db: float = 6.0
    min_rt60: float = 0.2
    max_rt60: float = 0.8


class Augmenter:
    """Corrupts one clip with `settings`' probabilities; noise and rooms from the user's folders
    when given, else generated (coloured noise; simulated rooms)."""

    def __init__(
        self,
        settings: AugmentSettings,
        rate: int,
        noise_dir: str | None = None,
        rir_dir: str | None = None,
    ):
        self.settings = settings
        self.rate = rate
        self.noise = AudioFolder(noise_dir, "--noise_dir") if noise_dir else None
        self.rooms = AudioFolder(rir_dir, "--rir_dir") if rir_dir else None

    def noise_for(self, length: int, rng: np.random.Generator) -> np.ndarray:
        if self.noise is not None:
            return self.noise.excerpt(length, self.rate, rng)
        colours = list(transforms.NOISE_COLOURS.values())
        return transforms.coloured_noise(length, colours[int(rng.integers(len(colours)))], rng)

    def room(self, rng: np.random.Generator) -> np.ndarray:
        if self.rooms is not None:
            return self.rooms.whole(self.rate, rng)
        s = self.settings
        return transforms.simulated_room(self.rate, float(rng.uniform(s.min_rt60, s.max_rt60)), rng)

    def __call__(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The clip, corrupted in a fixed order: speed, room, telephone line, gain, noise (the
        noise is added last, so the requested SNR is the one the model hears)."""
        s, audio = self.settings, waveform
        # Every draw happens whatever the outcome, so one transform's probability does not shift
        # the random stream of the others.
        draws = rng.random(5)
        factor = transforms.SPEED_FACTORS[int(rng.integers(len(transforms.SPEED_FACTORS)))]
        if draws[0] < s.speed:
            audio = transforms.change_speed(audio, factor, self.rate)
        if draws[1] < s.reverb:
            audio = transforms.reverberate(audio, self.room(rng))
        if draws[2] < s.telephone:
            audio = transforms.telephone(audio, self.rate)
        if draws[3] < s.gain:
            audio = transforms.apply_gain(audio, float(rng.uniform(-s.max_gain_db, s.max_gain_db)))
        if draws[4] < s.noise:
            snr = float(rng.uniform(s.min_snr_db, s.max_snr_db))
            audio = transforms.add_noise(audio, self.noise_for(len(audio), rng), snr)
        return audio.astype(np.float32, copy=False)


def settings_from_arguments(data_args) -> AugmentSettings:
    """The settings of DataArguments' augment_* fields."""
    return AugmentSettings(
        noise=data_args.augment_noise,
        speed=data_args.augment_speed,
        gain=data_args.augment_gain,
        reverb=data_args.augment_reverb,
        telephone=data_args.augment_telephone,
        min_snr_db=data_args.augment_min_snr_db,
        max_snr_db=data_args.augment_max_snr_db,
    )


def check_augment_arguments(model_args, data_args) -> str | None:
    """The one-line refusal of augmentation settings that cannot work, else None."""
    if not data_args.augment:
        for flag in ("noise_dir", "rir_dir"):
            if getattr(data_args, flag):
                return f"--{flag}: used only with --augment (add it, or leave the flag out)"
        return None
    if model_args.freeze_encoder and model_args.cache_frozen_features:
        return FROZEN_PROBE_REFUSAL
    for flag in PROBABILITY_FLAGS:
        value = getattr(data_args, flag)
        if not 0.0 <= value <= 1.0:
            return f"--{flag} {value}: a probability is between 0 and 1"
    if data_args.augment_min_snr_db > data_args.augment_max_snr_db:
        return (
            f"--augment_min_snr_db {data_args.augment_min_snr_db} is above --augment_max_snr_db "
            f"{data_args.augment_max_snr_db}"
        )
    for flag, folder in (("--noise_dir", data_args.noise_dir), ("--rir_dir", data_args.rir_dir)):
        if folder:
            try:
                AudioFolder(folder, flag)
            except ValueError as error:
                return str(error)
    return None


def build_augmenter(data_args, rate: int) -> Augmenter | None:
    """The run's augmenter (None without --augment); folders are checked here (ValueError)."""
    if not data_args.augment:
        return None
    return Augmenter(
        settings_from_arguments(data_args), rate, data_args.noise_dir, data_args.rir_dir
    )


def augment_summary(data_args) -> str:
    """One line for the model card's training table: off, or each probability and source."""
    if not data_args.augment:
        return "off"
    noise = f"folder {data_args.noise_dir}" if data_args.noise_dir else "generated"
    rooms = f"folder {data_args.rir_dir}" if data_args.rir_dir else "simulated"
    return (
        f"noise {data_args.augment_noise:g} ({noise}, {data_args.augment_min_snr_db:g}-"
        f"{data_args.augment_max_snr_db:g} dB SNR), speed {data_args.augment_speed:g}, "
        f"gain {data_args.augment_gain:g}, reverb {data_args.augment_reverb:g} ({rooms} rooms), "
        f"telephone {data_args.augment_telephone:g}"
    )
