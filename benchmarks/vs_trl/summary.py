"""Turn the per-process results into the comparison: medians, tokens per second, peak memory, ratios, a table."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from bench_common import RunResult, median_after_warmup

SIDES = ("rethinker", "trl")


def step_rates(result: RunResult, warmup: int) -> tuple[list[float], list[float]]:
    """(seconds, generated tokens per second) of each step after the warm-up steps."""
    kept = result.steps[warmup:]
    return [s.seconds for s in kept], [s.generated_tokens / s.seconds for s in kept]


def side_summary(results: Sequence[RunResult], warmup: int) -> dict[str, float]:
    """Median step time and tokens/s over every kept step of every process of one side, and the largest peak RSS."""
    seconds: list[float] = []
    rates: list[float] = []
    for result in results:
        step_seconds, step_rate = step_rates(result, warmup)
        seconds.extend(step_seconds)
        rates.extend(step_rate)
    return {
        "step_s_median": statistics.median(seconds),
        "cpu_s_median": statistics.median(s.cpu_seconds for r in results for s in r.steps[warmup:]),
        "tokens_per_s_median": statistics.median(rates),
        "tokens_per_step_median": statistics.median(s.generated_tokens for r in results for s in r.steps[warmup:]),
        "max_rss_mb": max(r.max_rss_mb for r in results),
        "kept_steps": float(len(seconds)),
    }


def paired_speedups(results: Sequence[RunResult], warmup: int, cpu: bool = False) -> list[float]:
    """TRL / rethinker median step time (wall, or CPU) of each back-to-back pair of processes (same length, repeat)."""
    by_side = {side: [r for r in results if r.spec.side == side] for side in SIDES}

    def median_time(result: RunResult) -> float:
        return median_after_warmup([s.cpu_seconds if cpu else s.seconds for s in result.steps], warmup)

    return [
        median_time(trl) / median_time(ours) for ours, trl in zip(by_side["rethinker"], by_side["trl"], strict=True)
    ]


BREAKDOWN = ("generate", "reward", "forward", "backward", "optimizer", "log")
"""rethinker's timed step parts, in step order (the trainer's own timers, plus the metrics logging around them)."""


GENERATE_PARTS = ("prefill", "decode")
"""The rollout engine's split of `generate` (absent from results recorded before the engine kept it)."""


def rethinker_breakdown(results: Sequence[RunResult], warmup: int) -> dict[str, float]:
    """Median seconds of each of rethinker's step parts, of what the timers leave out, and of the whole step."""
    rows = [s for r in results if r.spec.side == "rethinker" for s in r.steps[warmup:]]
    medians = {f"{part}_s": statistics.median(s.parts[f"time/{part}_s"] for s in rows) for part in BREAKDOWN}
    rest = [s.seconds - sum(s.parts[f"time/{part}_s"] for part in BREAKDOWN) for s in rows]
    split = {
        f"{part}_s": statistics.median(s.parts[f"time/{part}_s"] for s in rows)
        for part in GENERATE_PARTS
        if all(f"time/{part}_s" in s.parts for s in rows)
    }
    return medians | split | {"other_s": statistics.median(rest), "step_s": statistics.median(s.seconds for s in rows)}


def compare(results: Sequence[RunResult], warmup: int) -> dict[str, dict]:
    """The summary of one cell: each side measured, the ratios (when both were), and rethinker's time breakdown."""
    sides = {
        side: side_summary(chosen, warmup) for side in SIDES if (chosen := [r for r in results if r.spec.side == side])
    }
    breakdown = rethinker_breakdown(results, warmup) if "rethinker" in sides else {}
    if len(sides) < len(SIDES):
        return {"sides": sides, "ratios": {}, "rethinker_breakdown": breakdown}
    ours, trl = sides["rethinker"], sides["trl"]
    pairs = paired_speedups(results, warmup)
    cpu_pairs = paired_speedups(results, warmup, cpu=True)
    ratios = {
        "step_time_trl_over_rethinker": trl["step_s_median"] / ours["step_s_median"],
        "cpu_time_trl_over_rethinker": trl["cpu_s_median"] / ours["cpu_s_median"],
        "paired_cpu_time_ratios": cpu_pairs,
        "paired_cpu_time_ratio_median": statistics.median(cpu_pairs),
        "tokens_per_s_rethinker_over_trl": ours["tokens_per_s_median"] / trl["tokens_per_s_median"],
        "rss_trl_over_rethinker": trl["max_rss_mb"] / ours["max_rss_mb"],
        "paired_step_time_ratios": pairs,
        "paired_step_time_ratio_median": statistics.median(pairs),
    }
    return {"sides": sides, "ratios": ratios, "rethinker_breakdown": breakdown}


def grid_table(record: dict) -> str:
    """The scaling grid as Markdown: per cell both sides, the ratios, the floors; then rethinker's step breakdown."""
    lines = [
        "| cell: size/image tok/new tok/group | prompt tok | rethinker s/step | TRL s/step | TRL/rethinker (paired) "
        "| RSS rethinker / TRL MiB | floor s | rethinker / floor | per-row floor / floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, entry in record["summary"].items():
        ours, ratios = entry["sides"]["rethinker"], entry["ratios"]
        trl = entry["sides"].get("trl")
        floor = entry["floor"]["total_s"]
        trl_s = f"{trl['step_s_median']:.2f}" if trl else "not run"
        ratio = (
            f"{ratios['step_time_trl_over_rethinker']:.2f}x ({ratios['paired_step_time_ratio_median']:.2f}x)"
            if ratios
            else "-"
        )
        rss = f"{ours['max_rss_mb']:.0f} / {trl['max_rss_mb']:.0f}" if trl else f"{ours['max_rss_mb']:.0f} / -"
        lines.append(
            f"| {name} | {entry['prompt_tokens']} | {ours['step_s_median']:.2f} | {trl_s} | {ratio} | {rss} | "
            f"{floor:.2f} | {ours['step_s_median'] / floor:.1f}x | {entry['per_row_floor']['total_s'] / floor:.2f}x |"
        )
    lines += [
        "",
        "| cell | prefill s | decode s | decode ms/token (bare) | update fwd s | update bwd s | optimizer s | other s "
        "| floor prefill / decode / update s | decode floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, entry in record["summary"].items():
        parts, floor = entry["rethinker_breakdown"], entry["floor"]
        new_tokens = int(name.split("/")[2])
        per_token_ms = 1000 * parts["decode_s"] / max(new_tokens - 1, 1)
        bound = "per token" if floor["decode_per_token_bound"] else "FLOPs"
        rest = parts["other_s"] + parts["reward_s"] + parts["log_s"]
        lines.append(
            f"| {name} | {parts['prefill_s']:.2f} | {parts['decode_s']:.2f} | "
            f"{per_token_ms:.1f} ({1000 * entry['decode_token_s']:.1f}) | {parts['forward_s']:.2f} | "
            f"{parts['backward_s']:.2f} | {parts['optimizer_s']:.2f} | {rest:.2f} | "
            f"{floor['prefill_s']:.2f} / {floor['decode_s']:.2f} / {floor['update_s']:.2f} | {bound} |"
        )
    for key, title in (("left_out", "Cells left out"), ("trl_left_out", "Cells where only rethinker runs")):
        if record.get(key):
            lines += ["", f"{title}:", *(f"- `{name}`: {reason}" for name, reason in record[key].items())]
    return "\n".join(lines)
