"""EmoDB (Berlin Database of Emotional Speech) facts and file names: `03a01Fa.wav`.

Burkhardt et al. (2005): ten actors (five male, five female) speaking ten German sentences;
positions 1-2 are the speaker, 3-5 the text, 6 the emotion's German initial (W Wut/anger,
L Langeweile/boredom, E Ekel/disgust, A Angst/fear, F Freude/happiness, T Trauer/sadness,
N neutral), 7 the version. 535 clips kept after the listening test, 16 kHz.
"""

from __future__ import annotations

import re
from pathlib import Path

from data_scripts.corpora.emotions import in_shared_order
from data_scripts.corpora.interface import CorpusFacts, CorpusFile, audio_files, not_a_name_of

SPEAKER_GENDERS = {
    "03": "male",
    "08": "female",
    "09": "female",
    "10": "male",
    "11": "male",
    "12": "male",
    "13": "female",
    "14": "female",
    "15": "male",
    "16": "female",
}
TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")
EMOTION_LETTERS = {
    "W": "angry",
    "L": "boredom",
    "E": "disgust",
    "A": "fearful",
    "F": "happy",
    "T": "sad",
    "N": "neutral",
}
FILE_NAME = re.compile(r"^(\d\d)([ab]\d\d)([A-Z])([a-z])\.wav$")
EXAMPLE = "03a01Fa.wav"

FACTS = CorpusFacts(
    name="emodb",
    title="EmoDB",
    label_names=in_shared_order(EMOTION_LETTERS.values()),
    field_names=("text", "version"),
    expected_files=535,
    expected_speakers=len(SPEAKER_GENDERS),
    license="free for research (the authors ask for the citation below); check your copy's terms",
    citation=(
        "Burkhardt F, Paeschke A, Rolfes M, Sendlmeier WF, Weiss B (2005). A database of German "
        "emotional speech. Proc. Interspeech 2005, pp. 1517-1520"
    ),
    homepage="http://emodb.bilderbar.info/",
    description="EmoDB: ten German actors (five male, five female), seven emotions.",
)


def parse_file_name(name: str) -> dict:
    """{speaker, text, emotion, version} of `03a01Fa.wav`; ValueError naming the file."""
    match = FILE_NAME.match(name)
    if match is None:
        raise not_a_name_of(FACTS.title, EXAMPLE, name)
    speaker, text, letter, version = match.groups()
    if speaker not in SPEAKER_GENDERS:
        raise ValueError(f"{name}: speaker {speaker} is not one of {', '.join(SPEAKER_GENDERS)}")
    if text not in TEXTS:
        raise ValueError(f"{name}: text {text} is not one of {', '.join(TEXTS)}")
    if letter not in EMOTION_LETTERS:
        raise ValueError(f"{name}: emotion {letter} is not one of {', '.join(EMOTION_LETTERS)}")
    return {
        "speaker": speaker,
        "text": text,
        "emotion": EMOTION_LETTERS[letter],
        "version": version,
    }


def scan(data_dir: str | Path) -> list[CorpusFile]:
    data_dir = Path(data_dir).resolve()
    files = []
    for path in audio_files(data_dir):
        name = parse_file_name(path.name)
        files.append(
            CorpusFile(
                path=str(path),
                file=str(path.relative_to(data_dir)),
                label=name["emotion"],
                speaker=name["speaker"],
                gender=SPEAKER_GENDERS[name["speaker"]],
                fields=(("text", name["text"]), ("version", name["version"])),
            )
        )
    return files


def extra_inputs(data_dir) -> list[Path]:
    return []
