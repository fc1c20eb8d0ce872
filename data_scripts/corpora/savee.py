"""SAVEE facts and file names: `DC_a01.wav` (or `DC/a01.wav`): speaker, emotion code, number.

Haq & Jackson (2009): four male speakers (DC, JE, JK, KL), 120 utterances each: 15 per emotion
for anger (a), disgust (d), fear (f), happiness (h), sadness (sa) and surprise (su), and 30
neutral (n): 480 clips, 44.1 kHz.
"""

from __future__ import annotations

import re
from pathlib import Path

from data_scripts.corpora.emotions import in_shared_order
from data_scripts.corpora.interface import CorpusFacts, CorpusFile, audio_files, not_a_name_of

SPEAKERS = ("DC", "JE", "JK", "KL")
EMOTION_CODES = {
    "a": "angry",
    "d": "disgust",
    "f": "fearful",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprised",
}
# The codes' sentence numbers: 15 each, neutral 30.
SENTENCES_PER_CODE = {code: 30 if code == "n" else 15 for code in EMOTION_CODES}
FLAT_NAME = re.compile(r"^(DC|JE|JK|KL)_(sa|su|a|d|f|h|n)(\d\d)\.wav$")
FOLDER_NAME = re.compile(r"^(sa|su|a|d|f|h|n)(\d\d)\.wav$")
EXAMPLE = "DC_a01.wav"

FACTS = CorpusFacts(
    name="savee",
    title="SAVEE",
    label_names=in_shared_order(EMOTION_CODES.values()),
    field_names=("sentence",),
    expected_files=480,
    expected_speakers=len(SPEAKERS),
    license="free for research use (registration with the University of Surrey)",
    citation=(
        "Haq S, Jackson PJB (2009). Speaker-dependent audio-visual emotion recognition. Proc. "
        "Int. Conf. on Auditory-Visual Speech Processing (AVSP'09), Norwich, UK, pp. 53-58"
    ),
    homepage="http://kahlan.eps.surrey.ac.uk/savee/",
    description="SAVEE: four male speakers of British English, seven emotions.",
)


def parse_path(path: Path) -> dict:
    """{speaker, emotion, sentence} of `DC_a01.wav` or `DC/a01.wav`; ValueError naming it."""
    flat = FLAT_NAME.match(path.name)
    nested = FOLDER_NAME.match(path.name) if path.parent.name in SPEAKERS else None
    if flat:
        speaker, code, number = flat.groups()
    elif nested:
        speaker, (code, number) = path.parent.name, nested.groups()
    else:
        raise not_a_name_of(FACTS.title, f"{EXAMPLE} or DC/a01.wav", path)
    if not 1 <= int(number) <= SENTENCES_PER_CODE[code]:
        raise ValueError(
            f"{path}: sentence {number} of code {code}: SAVEE numbers them 01-"
            f"{SENTENCES_PER_CODE[code]:02d}"
        )
    return {"speaker": speaker, "emotion": EMOTION_CODES[code], "sentence": f"{code}{number}"}


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
                gender="male",
                fields=(("sentence", name["sentence"]),),
            )
        )
    return files


def extra_inputs(data_dir) -> list[Path]:
    return []
