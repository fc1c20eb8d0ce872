"""Your own audio in label folders: `DIR/<label>/**/*.wav` (the audiofolder convention).

The label is the first folder below DIR, spelled as a shared English name or an accepted
alias (`anger`, `happiness`, ...); other labels are refused unless listed with --labels.
`--speaker_pattern REGEX` reads the speaker from each file name (the group named `speaker`,
else the first group); without it the corpus has no speakers and its split is file-level.
"""

from __future__ import annotations

import re
from pathlib import Path

from data_scripts.corpora.emotions import in_shared_order, shared_name
from data_scripts.corpora.interface import CorpusFacts, CorpusFile, audio_files


def label_of(text: str, own_labels: tuple[str, ...], where: str) -> str:
    """The shared name of a label, or the label itself when --labels lists it; else refused."""
    if not text.strip():
        raise ValueError(f"{where}: empty label; give every file a label")
    if text.strip() in own_labels:
        return text.strip()
    name = shared_name(text)
    if name is None:
        raise ValueError(
            f"{where}: unknown label {text!r}: not an emotion name this project knows (angry, "
            "disgust, fearful, happy, neutral, sad, surprised, calm, boredom or a spelling such "
            "as anger, happiness); list your own labels with --labels"
        )
    return name


def speaker_reader(pattern: str | None):
    """A function from a file name to its speaker ("" without a pattern); refuses a file the
    pattern does not match."""
    if not pattern:
        return lambda path: ""
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ValueError(
            f"--speaker_pattern {pattern!r}: not a regular expression ({error})"
        ) from None
    if compiled.groups == 0:
        raise ValueError(f"--speaker_pattern {pattern!r}: needs a group, e.g. '^(\\w+?)_'")

    def speaker(path: Path) -> str:
        match = compiled.search(path.name)
        if match is None:
            raise ValueError(
                f"{path}: --speaker_pattern {pattern!r} does not match this file name; fix the "
                "pattern or the name"
            )
        found = match["speaker"] if "speaker" in compiled.groupindex else match[1]
        return found or ""

    return speaker


def scan(
    data_dir: str | Path, speaker_pattern: str | None = None, labels: tuple[str, ...] = ()
) -> tuple[CorpusFacts, list[CorpusFile]]:
    data_dir = Path(data_dir).resolve()
    speaker = speaker_reader(speaker_pattern)
    files = []
    for path in audio_files(data_dir):
        relative = path.relative_to(data_dir)
        if len(relative.parts) < 2:
            raise ValueError(f"{path}: not in a label folder; put each file under DIR/<label>/")
        files.append(
            CorpusFile(
                path=str(path),
                file=str(relative),
                label=label_of(relative.parts[0], labels, str(path)),
                speaker=speaker(path),
            )
        )
    facts = CorpusFacts(
        name=data_dir.name,
        title=f"folder {data_dir.name}",
        label_names=in_shared_order(f.label for f in files),
        description=f"Audio in label folders under {data_dir}.",
    )
    return facts, files
