"""What we know about RAVDESS: archives, checksums, file-name codes, expected counts.

Everything here is data the pipeline checks against; it is defined once and imported
by the downloader, the dataset builder, training and the tests.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

SOURCE_SAMPLING_RATE = 48_000

ZENODO_RECORD = "1188976"
DEFAULT_BASE_URL = f"https://zenodo.org/records/{ZENODO_RECORD}/files"


@dataclass(frozen=True)
class Archive:
    file_name: str
    size: int
    md5: str
    audio_type: str  # "speech" or "song"
    folder: str  # sub-folder of classification_data/ (the original project's layout)
    expected_files: int


SPEECH_ARCHIVE = Archive(
    "Audio_Speech_Actors_01-24.zip",
    208_468_073,
    "bc696df654c87fed845eb13823edef8a",
    "speech",
    "speech",
    1440,
)
SONG_ARCHIVE = Archive(
    "Audio_Song_Actors_01-24.zip",
    225_505_317,
    "5411230427d67a21e18aa4d466e6d1b9",
    "song",
    "songs",
    1012,
)
ARCHIVES = (SPEECH_ARCHIVE, SONG_ARCHIVE)
ARCHIVE_BY_TYPE = {a.audio_type: a for a in ARCHIVES}

# Emotion codes 01..08 in RAVDESS order; the ClassLabel ids are code - 1.
EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
SONG_EMOTIONS = EMOTIONS[:6]  # song has no disgust and no surprised
MODALITIES = {1: "audio-video", 2: "video-only", 3: "audio-only"}
VOCAL_CHANNELS = ("speech", "song")
INTENSITIES = ("normal", "strong")
STATEMENTS = ("Kids are talking by the door", "Dogs are sitting by the door")
GENDERS = ("male", "female")
ACTORS = tuple(range(1, 25))
ACTORS_WITHOUT_SONG = (18,)
FILES_PER_ACTOR = {"speech": 60, "song": 44}
# No RAVDESS wav comes near this (the largest are a few MB); a bigger archive member, declared
# or streamed, is refused as a zip bomb before it fills the disk or the memory.
MAX_MEMBER_BYTES = 64 * 1024 * 1024

FILE_NAME_PATTERN = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)\.wav$")


@dataclass(frozen=True)
class RavdessName:
    """The seven fields of a RAVDESS file name, decoded."""

    file_name: str
    modality: str
    vocal_channel: str
    emotion_code: int  # 1..8, the original mapping CSV's `emotion` column
    emotion: str
    intensity: str
    statement: int  # 1 or 2
    repetition: int  # 1 or 2
    actor: int  # 1..24
    gender: str

    def as_dict(self) -> dict:
        return asdict(self)


def _decode(code: int, choices, field: str, file_name: str) -> str:
    if not 1 <= code <= len(choices):
        raise ValueError(
            f"{file_name}: {field} code {code:02d} is not one of 01..{len(choices):02d}"
        )
    return choices[code - 1]


def parse_file_name(file_name: str) -> RavdessName:
    """Decode `MM-VC-EE-II-SS-RR-AA.wav`; raise ValueError naming the file and the bad field."""
    match = FILE_NAME_PATTERN.match(file_name)
    if match is None:
        raise ValueError(
            f"{file_name}: not a RAVDESS file name (expected MM-VC-EE-II-SS-RR-AA.wav)"
        )
    modality, channel, emotion, intensity, statement, repetition, actor = map(int, match.groups())
    if modality != 3:
        raise ValueError(f"{file_name}: modality {modality:02d} is not audio-only (03)")
    vocal_channel = _decode(channel, VOCAL_CHANNELS, "vocal channel", file_name)
    allowed = EMOTIONS if vocal_channel == "speech" else SONG_EMOTIONS
    emotion_name = _decode(emotion, allowed, f"{vocal_channel} emotion", file_name)
    intensity_name = _decode(intensity, INTENSITIES, "intensity", file_name)
    if emotion_name == "neutral" and intensity_name == "strong":
        raise ValueError(f"{file_name}: neutral has no strong intensity")
    _decode(statement, STATEMENTS, "statement", file_name)
    _decode(repetition, (1, 2), "repetition", file_name)
    if actor not in ACTORS:
        raise ValueError(f"{file_name}: actor {actor:02d} is not one of 01..24")
    return RavdessName(
        file_name=file_name,
        modality=MODALITIES[modality],
        vocal_channel=vocal_channel,
        emotion_code=emotion,
        emotion=emotion_name,
        intensity=intensity_name,
        statement=statement,
        repetition=repetition,
        actor=actor,
        gender=actor_gender(actor),
    )


def actor_gender(actor: int) -> str:
    """Odd actors are male, even actors female."""
    return "male" if actor % 2 else "female"


def file_names_for_actor(actor: int, vocal_channel: str) -> list[str]:
    """Every file name RAVDESS holds for one actor and channel, in a fixed order."""
    if vocal_channel == "song" and actor in ACTORS_WITHOUT_SONG:
        return []
    channel = VOCAL_CHANNELS.index(vocal_channel) + 1
    emotions = EMOTIONS if vocal_channel == "speech" else SONG_EMOTIONS
    names = []
    for emotion in range(1, len(emotions) + 1):
        for intensity in (1,) if emotion == 1 else (1, 2):
            for statement in (1, 2):
                for repetition in (1, 2):
                    names.append(
                        f"03-{channel:02d}-{emotion:02d}-{intensity:02d}-"
                        f"{statement:02d}-{repetition:02d}-{actor:02d}.wav"
                    )
    return names


def expected_count(vocal_channel: str, actors=ACTORS) -> int:
    return sum(len(file_names_for_actor(a, vocal_channel)) for a in actors)


# EmoBox (Ma et al., Interspeech 2024; github.com/emo-box/EmoBox, data/ravdess/fold_k/
# ravdess_test_fold_k.jsonl): the test actors of its six speaker-independent folds over the
# 1440 speech files, 8 classes; 240 test and 1200 train files per fold.
EMOBOX_TEST_ACTORS = {
    1: (1, 11, 20, 21),
    2: (4, 10, 12, 14),
    3: (8, 9, 19, 23),
    4: (3, 5, 7, 24),
    5: (2, 15, 16, 18),
    6: (6, 13, 17, 22),
}
EMOBOX_VOCAL_CHANNEL = "speech"
EMOBOX_FILES = {"test": 240, "train": 1200}
# EmoBox's metric names beside ours: UA is unweighted average recall, WA accuracy.
EMOBOX_METRIC_NAMES = {"UA": "uar", "WA": "accuracy", "macro-F1": "macro_f1"}
