"""Data: corpora (RAVDESS and the others) and the parts they share (imports nothing of training).

`common/` holds what every corpus uses, `corpora/` the shared interface, each corpus (RAVDESS a
folder of its own, `corpora/ravdess/`), the builder and `ser-prepare`. The modules left here only
keep the old commands working (`python -m data_scripts.ravdess` and the others).
"""
