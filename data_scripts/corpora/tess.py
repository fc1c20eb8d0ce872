"""TESS facts and file names: `OAF_angry/OAF_back_angry.wav` (speaker, word, emotion).

Dupuis & Pichora-Fuller (2010): two actresses, aged 64 (OAF) and 26 (YAF), each saying 200
target words in the carrier phrase "Say the word _" in seven emotions: 2,800 clips. Folders are
named `<speaker>_<emotion>` (spelled variously: `OAF_Fear`, `YAF_pleasant_surprised`); file
names end in the emotion (`ps` for pleasant surprise, here `surprised`). The folder, where it
names an emotion, must agree with the file name.
"""

from __future__ import annotations

import re
from pathlib import Path

from data_scripts.corpora.emotions import in_shared_order, shared_name
from data_scripts.corpora.interface import CorpusFacts, CorpusFile, audio_files, not_a_name_of

SPEAKERS = {"OAF": "older adult female (64)", "YAF": "younger adult female (26)"}
EMOTION_WORDS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "surprised",
    "sad": "sad",
}
FILE_NAME = re.compile(r"^(OAF|YAF)_(.+)_([A-Za-z]+)\.wav$", re.IGNORECASE)
FOLDER_NAME = re.compile(r"^(OAF|YAF)_(.+)$", re.IGNORECASE)
EXAMPLE = "OAF_angry/OAF_back_angry.wav"

FACTS = CorpusFacts(
    name="tess",
    title="TESS",
    label_names=in_shared_order(EMOTION_WORDS.values()),
    field_names=("word",),
    expected_files=2800,
    expected_speakers=len(SPEAKERS),
    license="CC BY-NC-ND 4.0",
    citation=(
        "Dupuis K, Pichora-Fuller MK (2010). Toronto emotional speech set (TESS). University of "
        "Toronto, Psychology Department. doi:10.5683/SP2/E8H2MF"
    ),
    homepage="https://doi.org/10.5683/SP2/E8H2MF",
    description="TESS: two female speakers (64 and 26), 200 words each in seven emotions.",
)


def parse_path(path: Path) -> dict:
    """{speaker, word, emotion} of `OAF_angry/OAF_back_angry.wav`; ValueError naming the file."""
    match = FILE_NAME.match(path.name)
    if match is None or match[3].lower() not in EMOTION_WORDS:
        raise not_a_name_of(FACTS.title, EXAMPLE, path)
    speaker, word, emotion = match[1].upper(), match[2].lower(), EMOTION_WORDS[match[3].lower()]
    folder = FOLDER_NAME.match(path.parent.name)
    if folder is not None:
        said = shared_name(folder[2])
        if folder[1].upper() != speaker or (said is not None and said != emotion):
            raise ValueError(
                f"{path}: the folder {path.parent.name} says {folder[1].upper()}, {said}, but the "
                f"file name says {speaker}, {emotion}; labels would contradict each other"
            )
    return {"speaker": speaker, "word": word, "emotion": emotion}


def scan(data_dir: str | Path) -> list[CorpusFile]:
    data_dir = Path(data_dir).resolve()
    files = []
    for path in audio_files(data_dir):
        name = parse_path(path)
        files.append(
            CorpusFile(
                path=str(path),
                file=str(path.relative_to(data_dir)),
                label=name["emotion"],
                speaker=name["speaker"],
                gender="female",
                fields=(("word", name["word"]),),
            )
        )
    return files


def extra_inputs(data_dir) -> list[Path]:
    return []
