"""The training run (this folder), and rooms by job: model, reports, run_folder, inference, demo."""
