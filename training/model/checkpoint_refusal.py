"""The one line shown when a checkpoint cannot be loaded: the file and the reason only.

torch's weights_only error suggests reloading with `weights_only=False`, which would run
whatever code the pickle holds; that advice is never shown. A safetensors file cut short (a
copy or download that stopped) raises safetensors' own error, which names no file.
"""

from __future__ import annotations

from pathlib import Path

# Lines of torch's message that are advice or boilerplate, not the reason.
BOILERPLATE = ("weights only load failed", "weights_only", "please file an issue", "check the doc")
REASON_PREFIX = "WeightsUnpickler error:"


def refusal_reason(error: BaseException) -> str:
    """torch's reason for refusing a pickle ("Unsupported operand 148", "unsupported GLOBAL
    posix.system ..."), without its advice."""
    reasons = []
    for line in str(error).splitlines():
        line = line.strip().removeprefix(REASON_PREFIX).strip()
        if line and not any(part in line.lower() for part in BOILERPLATE):
            reasons.append(line)
    return "; ".join(reasons) or type(error).__name__


def refusal_message(path: str | Path, error: BaseException) -> str:
    return f"refused to load {path}: not a plain-tensor checkpoint ({refusal_reason(error)})"


def weights_file(model_dir: str | Path, name: str = "pytorch_model.bin") -> Path:
    """The weights file `name` of a model folder, or the folder when it has none (a lone file
    is itself)."""
    candidate = Path(model_dir) / name
    return candidate if candidate.is_file() else Path(model_dir)


def damaged_message(path: str | Path, error: BaseException) -> str:
    """A safetensors file that does not parse: which file, safetensors' reason, what to do."""
    return (
        f"{path}: cannot be read ({error}): the weights file is damaged or was cut short; "
        "copy or download it again"
    )
