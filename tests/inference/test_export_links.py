"""Export copies only the source folder's own files: a symbolic link among them is refused by
name, so whatever it points to (a key file, ~/.aws/credentials) never reaches the export."""

from __future__ import annotations

import shutil

import pytest
from model_helpers import save_tiny_classifier

from training.inference.export import main as export_main


def test_links_in_what_is_exported_are_refused_naming_them(tmp_path, capsys):
    """Before, export followed the links: the linked file's content became the export's card
    and was listed in manifest.json."""
    model = save_tiny_classifier(tmp_path / "model")
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key = do-not-leak\n")
    (model / "README.md").symlink_to(secret)
    outside = tmp_path / "elsewhere.json"
    shutil.move(model / "preprocessor_config.json", outside)
    (model / "preprocessor_config.json").symlink_to(outside)
    dest = tmp_path / "dest"
    with pytest.raises(SystemExit) as exited:
        export_main([str(model), str(dest)])
    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert (
        f"error: SOURCE {model}: preprocessor_config.json, README.md are symbolic links; an "
        "export copies only the folder's own files"
    ) in error
    assert "Traceback" not in error
    assert not dest.exists()
    copies = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink()]
    assert [p for p in copies if "do-not-leak" in p.read_text(errors="replace")] == [secret]
