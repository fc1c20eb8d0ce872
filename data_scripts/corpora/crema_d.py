"""CREMA-D facts and file names: `1001_DFA_ANG_XX.wav` (actor, sentence, emotion, level).

Cao et al. (2014): 7,442 clips from 91 actors (48 male, 43 female, ids 1001-1091), 12 sentences,
six emotions; only sentence IEO is spoken at three levels (LO, MD, HI), the others at XX
(unspecified). The audio (AudioWAV/) is 16 kHz mono. Actor genders are in VideoDemographics.csv
(ActorID, Age, Sex, Race, Ethnicity), read when it is in --data_dir or the folder above it.
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

from data_scripts.corpora.emotions import in_shared_order
from data_scripts.corpora.interface import (
    UNKNOWN,
    CorpusFacts,
    CorpusFile,
    audio_files,
    not_a_name_of,
)

logger = logging.getLogger(__name__)

EMOTION_CODES = {
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fearful",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
ACTORS = range(1001, 1092)
DEMOGRAPHICS_FILE = "VideoDemographics.csv"
FILE_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})\.wav$")
EXAMPLE = "1001_DFA_ANG_XX.wav"

FACTS = CorpusFacts(
    name="crema_d",
    title="CREMA-D",
    label_names=in_shared_order(EMOTION_CODES.values()),
    field_names=("sentence", "level"),
    breakdown_fields=("level",),
    expected_files=7442,
    expected_speakers=len(ACTORS),
    license="ODbL-1.0 (Open Database License; contents under the Database Contents License)",
    citation=(
        "Cao H, Cooper DG, Keutmann MK, Gur RC, Nenkova A, Verma R (2014). CREMA-D: "
        "Crowd-sourced Emotional Multimodal Actors Dataset. IEEE Transactions on Affective "
        "Computing 5(4): 377-390. doi:10.1109/TAFFC.2014.2336244"
    ),
    homepage="https://github.com/CheyneyComputerScience/CREMA-D",
    description="CREMA-D: 91 actors (48 male, 43 female) speaking 12 sentences in six emotions.",
)


def parse_file_name(name: str) -> dict:
    """{actor, sentence, emotion, level} of `1001_DFA_ANG_XX.wav`; ValueError naming the file."""
    match = FILE_NAME.match(name)
    if match is None:
        raise not_a_name_of(FACTS.title, EXAMPLE, name)
    actor, sentence, emotion, level = match.groups()
    for code, table, what in (
        (sentence, SENTENCES, "sentence"),
        (emotion, EMOTION_CODES, "emotion"),
        (level, LEVELS, "level"),
    ):
        if code not in table:
            raise ValueError(f"{name}: {what} code {code} is not one of {', '.join(table)}")
    if int(actor) not in ACTORS:
        raise ValueError(f"{name}: actor {actor} is not one of 1001..1091")
    return {
        "actor": actor,
        "sentence": sentence,
        "emotion": EMOTION_CODES[emotion],
        "level": level,
    }


def find_demographics(data_dir: Path) -> Path | None:
    for folder in (data_dir, data_dir.parent):
        if (folder / DEMOGRAPHICS_FILE).is_file():
            return folder / DEMOGRAPHICS_FILE
    return None


def read_genders(path: Path) -> dict[str, str]:
    """{actor id: male|female} from VideoDemographics.csv; ValueError naming a bad row."""
    genders = {}
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if not {"ActorID", "Sex"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: expected the columns ActorID and Sex")
        for line, row in enumerate(reader, start=2):
            sex = row["Sex"].strip().lower()
            if sex not in ("male", "female"):
                raise ValueError(f"{path}, line {line}: Sex {row['Sex']!r} is not Male or Female")
            genders[row["ActorID"].strip()] = sex
    return genders


def scan(data_dir: str | Path) -> list[CorpusFile]:
    """Every CREMA-D wav under `data_dir`, labels from its name, gender from the demographics."""
    data_dir = Path(data_dir).resolve()
    demographics = find_demographics(data_dir)
    genders = read_genders(demographics) if demographics else {}
    if demographics is None:
        logger.warning("%s not found beside %s: genders unknown", DEMOGRAPHICS_FILE, data_dir)
    files = []
    for path in audio_files(data_dir):
        name = parse_file_name(path.name)
        files.append(
            CorpusFile(
                path=str(path),
                file=str(path.relative_to(data_dir)),
                label=name["emotion"],
                speaker=name["actor"],
                gender=genders.get(name["actor"], UNKNOWN),
                fields=(("sentence", name["sentence"]), ("level", name["level"])),
            )
        )
    return files


def extra_inputs(data_dir: str | Path) -> list[Path]:
    """Files besides the audio whose content the build depends on (its cache fingerprint)."""
    found = find_demographics(Path(data_dir).resolve())
    return [found] if found else []
