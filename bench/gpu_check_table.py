"""bench/gpu_check.py's JSON as the readable Markdown table it writes beside it."""

from __future__ import annotations


def table(result: dict) -> str:
    """The JSON's numbers as a readable Markdown table."""
    env, lines = result["environment"], []
    lines.append(
        "DRY RUN on CPU with the tiny model: these numbers show that each step works, "
        "not what a GPU does.\n"
        if result["dry_run"]
        else ""
    )
    lines.append(f"{env.get('gpu', env['device'])}, driver {env.get('driver')}, torch "
                 f"{env['torch']} (CUDA {env['cuda']}), transformers {env['transformers']}, "
                 f"{env['date']}\n")  # fmt: skip
    lines += ["| check | value |", "|---|---|"]
    for dtype in ("fp32", "bf16"):
        c = result["correctness"][dtype]
        lines.append(
            f"| batched vs single, {dtype} (full preset) | max diff {c['max_abs_difference']:.2e}"
            f" (tolerance {c['tolerance']:.1e}; padded forward "
            f"{c['padded_max_abs_difference']:.2e}), labels agree {c['label_agreement']:.0%}: "
            f"{'PASS' if c['passed'] else 'FAIL'} |"
        )
    for preset, row in result["training"].items():
        step = result["train_step"][preset]
        memory = row["peak_gpu_memory_bytes"]
        memory = f"{memory / 2**30:.1f} GiB" if memory is not None else "n/a"
        mfu = f"{row['mfu']:.1%}" if row["mfu"] is not None else "n/a"
        lines.append(
            f"| train {preset} | {row['samples_per_second']:.1f} samples/s, "
            f"{row['audio_seconds_per_second']:.0f} audio s/s, data wait "
            f"{row['data_wait_share']:.1%}, peak GPU memory {memory}, "
            f"{row['achieved_tflops']:.2f} TFLOP/s (MFU {mfu}) |"
        )
        lines.append(
            f"| train step {preset}, exact vs padded | {step['exact_seconds'] * 1e3:.1f} vs "
            f"{step['padded_seconds'] * 1e3:.1f} ms ({step['exact_cost_share_of_step']:.1%} "
            "of the step) |"
        )
    lines.append(f"| evaluation (full) | {result['evaluation']['clips_per_second']:.1f} clips/s |")
    hours = result["projection"]["seconds"] / 3600
    lines.append(f"| 20-epoch full fine-tune on RAVDESS | {hours:.2f} h projected |")
    lines.append(f"| probe cache build | {result['probing']['clips_per_second']:.1f} clips/s |")
    p = result["predict"]
    lines.append(
        f"| predict (full) | {p['batched_clips_per_second_float32']:.1f} clips/s batched fp32, "
        f"{p['batched_clips_per_second_bfloat16']:.1f} bf16, "
        f"{p['single_clips_per_second_float32']:.1f} one at a time |"
    )
    lines.append(f"| total | {result['seconds']['total']:.0f} s |")
    return "\n".join(lines) + "\n"
