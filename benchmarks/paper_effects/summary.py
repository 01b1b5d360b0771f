"""Tables (summary.md), numbers (summary.json) and figures (PNG, when matplotlib is installed) from the pieces' JSON."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from rethinker.report.intervals import format_ci, mean_ci95, paired_differences
from rethinker.train.warmup import PLATEAU_EVALS, plateau

REPLAY_MODES = ("none", "filter", "dapo", "ssr")
VARIANTS = ("forced", "plain")


def load(folder: Path, pattern: str) -> dict[int, dict]:
    """The pieces matching `pattern` ('rl-seed*.json'), by seed."""
    found = {}
    for path in sorted(folder.glob(pattern)):
        payload = json.loads(path.read_text())
        found[payload["seed"]] = payload
    return found


def values(curve: list[list[float]]) -> list[float]:
    """The values of a [[step, value], ...] curve."""
    return [value for _, value in curve]


def finding1(out: Path) -> tuple[dict, list[str]]:
    """Supervised plateau and RL gain per seed."""
    sft, rl = load(out / "f1", "sft-seed*.json"), load(out / "f1", "rl-seed*.json")
    rows, lines = (
        [],
        [
            "| seed | SFT last evals (steps) | SFT plateau | RL start | RL end | RL end - plateau |",
            "|---|---|---|---|---|---|",
        ],
    )
    for seed in sorted(set(sft) & set(rl)):
        last = sft[seed]["curve"][-PLATEAU_EVALS:]
        level = plateau(sft[seed]["curve"])[0]
        accs = values(rl[seed]["eval"])
        row = {
            "seed": seed,
            "sft_last": last,
            "plateau": level,
            "rl_start": accs[0],
            "rl_end": accs[-1],
            "gain": accs[-1] - level,
            "gain_from_rl_start": accs[-1] - accs[0],
        }
        rows.append(row)
        shown = ", ".join(f"{acc:.3f}" for _, acc in last)
        lines.append(
            f"| {seed} | {shown} ({last[0][0]}-{last[-1][0]}) | {row['plateau']:.3f} | {row['rl_start']:.3f} |"
            f" {row['rl_end']:.3f} | {row['gain']:+.3f} |"
        )
    result: dict = {"runs": rows}
    if rows:
        gains = [row["gain"] for row in rows]
        result.update({"gain_mean": statistics.fmean(gains), "every_seed_positive": all(g > 0 for g in gains)})
        lines.append(
            f"\nRL gain over the plateau: {format_ci(gains)} (mean ± 95% CI over {len(gains)} seeds); every seed"
            f" positive: {'yes' if result['every_seed_positive'] else 'no'}."
        )
    return result, lines


def at_budget(run: dict, budget: float) -> float:
    """Held-out accuracy at the last evaluation whose rollout count is within `budget`."""
    samples = dict((step, total) for step, total in run["rollout_samples"])
    within = [acc for step, acc in run["eval"] if samples.get(step, 0.0) <= budget]
    return within[-1]


def level_and_spread(series_values: list[float]) -> tuple[float, float]:
    """(mean, population std) of a run's per-update values; (0, 0) for a run that made no update."""
    if not series_values:
        return 0.0, 0.0
    return statistics.fmean(series_values), statistics.pstdev(series_values)


def late_evals(curve: list[list[float]]) -> list[float]:
    """The evaluations of the second half of a run (after the first rise): its held-out accuracy once settled."""
    last_step = curve[-1][0]
    return [value for step, value in curve if step >= last_step / 2]


def vanishing(out: Path) -> tuple[dict, list[str]]:
    """The share of effective groups early and late in the plain-GRPO runs of finding 1 (the longest horizon)."""
    rl = load(out / "f1", "rl-seed*.json")
    if not rl:
        return {}, []
    window = max(1, min(len(run["groups_effective"]) for run in rl.values()) // 10)
    early = [statistics.fmean(values(run["groups_effective"][:window])) for run in rl.values()]
    late = [statistics.fmean(values(run["groups_effective"][-window:])) for run in rl.values()]
    fall = paired_differences(early, late)
    result = {"window": window, "early": mean_ci95(early), "late": mean_ci95(late), "fall": mean_ci95(fall)}
    line = (
        f"Plain GRPO (finding 1's runs, {len(rl)} seeds): share of effective groups over the first {window} updates"
        f" {format_ci(early, 2)}, over the last {window} {format_ci(late, 2)}; fall {format_ci(fall, 2)}."
    )
    return result, [line, ""]


def finding2(out: Path) -> tuple[dict, list[str]]:
    """Per replay mode: accuracy at equal rollout budget, effective groups, stability, with 95% CIs over seeds."""
    fading, fading_lines = vanishing(out)
    runs = {mode: load(out / "f2", f"{mode}-seed*.json") for mode in REPLAY_MODES}
    seeds = sorted(set.intersection(*(set(r) for r in runs.values()))) if all(runs.values()) else []
    if not seeds:
        return {"vanishing": fading}, [*fading_lines, "(no complete seed yet)"]
    budget = {s: min(runs[m][s]["rollout_samples"][-1][1] for m in REPLAY_MODES) for s in seeds}
    result: dict = {"vanishing": fading, "seeds": seeds, "modes": {}}
    lines = [
        *fading_lines,
        "| mode | held-out acc at equal rollouts | acc end | effective groups first 5 steps -> last 5 |"
        " grad-norm mean / std over steps | held-out acc std, second half | rollouts per run | vs none (paired) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = [at_budget(runs["none"][s], budget[s]) for s in seeds]
    for mode in REPLAY_MODES:
        per = [runs[mode][s] for s in seeds]
        equal = [at_budget(run, budget[s]) for run, s in zip(per, seeds, strict=True)]
        first = [statistics.fmean(values(run["groups_effective"][:5])) for run in per]
        last = [statistics.fmean(values(run["groups_effective"][-5:])) for run in per]
        grad_mean = [level_and_spread(values(run["grad_norm"]))[0] for run in per]
        grad_std = [level_and_spread(values(run["grad_norm"]))[1] for run in per]
        acc_std = [statistics.pstdev(late_evals(run["eval"])) for run in per]
        rollouts = [run["rollout_samples"][-1][1] for run in per]
        diff = paired_differences(equal, base)
        result["modes"][mode] = {
            "acc_equal_rollouts": mean_ci95(equal),
            "acc_end": mean_ci95([run["eval"][-1][1] for run in per]),
            "effective_first": mean_ci95(first),
            "effective_last": mean_ci95(last),
            "grad_norm_mean": mean_ci95(grad_mean),
            "grad_norm_std": mean_ci95(grad_std),
            "eval_acc_std": mean_ci95(acc_std),
            "vs_none": mean_ci95(diff),
        }
        lines.append(
            f"| {mode} | {format_ci(equal)} | {format_ci([run['eval'][-1][1] for run in per])} |"
            f" {format_ci(first, 2)} -> {format_ci(last, 2)} | {format_ci(grad_mean, 2)} / {format_ci(grad_std, 2)} |"
            f" {format_ci(acc_std)} |"
            f" {statistics.fmean(rollouts):.0f} | {'—' if mode == 'none' else format_ci(diff)} |"
        )
    return result, lines


def share_of(part: float, whole: float) -> float:
    """part / whole, 0 when the whole is empty."""
    return part / whole if whole > 0 else 0.0


def model_label(name: str) -> str:
    """How a finding-3 model is named in the tables: the supervised start, or a stage-2 variant."""
    return "supervised start" if name == "start" else f"stage 2 {name}"


def merged_shifts(per_seed: list[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    """Flip counts by answer shift, summed over seeds, for both directions."""
    merged: dict[str, dict[str, int]] = {"wrong_to_right": {}, "right_to_wrong": {}}
    for shifts in per_seed:
        for kind, counts in shifts.items():
            for shift, count in counts.items():
                merged[kind][shift] = merged[kind].get(shift, 0) + count
    return merged


def describe(counts: dict[str, int]) -> str:
    """'+1: 7, -2: 1' (largest first), or 'none'."""
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    return ", ".join(f"{shift}: {count}" for shift, count in ordered) or "none"


def own_net_fixes(variant: dict) -> list[float]:
    """Per seed, wrong->right minus right->wrong of a model's own sampled rethinks (shares of all responses)."""
    sampled = variant["sampled"]
    return paired_differences(sampled["spontaneous_wrong_to_right"], sampled["spontaneous_right_to_wrong"])


def net_fix_lines(variants: dict[str, dict]) -> list[str]:
    """Per model, wrong->right minus right->wrong of its own sampled rethinks and of greedy test-time forcing (paired
    by seed): above zero, its rethinks fix more answers than they break."""
    lines = []
    for name, result in variants.items():
        parts = []
        if "sampled" in result:
            own = own_net_fixes(result)
            above = sum(value > 0 for value in own)
            parts.append(f"own sampled rethinks {format_ci(own)} (above zero on {above} of {len(own)} seeds)")
        forced = paired_differences(result["wrong_to_right"], result["right_to_wrong"])
        parts.append(f"test-time forcing {format_ci(forced)}")
        lines.append(f"- {model_label(name)}: " + "; ".join(parts))
    return ["Rethinks' net fixes (wrong->right minus right->wrong, shares of all answers, paired by seed):", "", *lines]


def finding3(out: Path) -> tuple[dict, list[str]]:
    """Stage 2 with and without forced rethinking (and the supervised start they come from): spontaneous rethinking,
    its flips, accuracy, test-time gain, and which share of wrong (right) answers a forced rethink fixes (breaks)."""
    runs = {name: load(out / "f3", f"{name}-seed*.json") for name in ("start", *VARIANTS)}
    seeds = sorted(set(runs["forced"]) & set(runs["plain"]))
    if not seeds:
        return {}, ["(no complete seed yet)"]
    names = [name for name in runs if all(seed in runs[name] for seed in seeds)]
    result: dict = {"seeds": seeds, "variants": {}}
    lines = []
    starts = load(out / "f3", "sft-seed*.json")
    if starts:
        levels = [plateau(starts[seed]["curve"])[0] for seed in seeds if seed in starts]
        result["start_plateau"] = levels
        lines += [
            f"The supervised start's plateau: {format_ci(levels)} over {len(levels)} seeds (greedy held-out accuracy,"
            " its last evaluations).",
            "",
        ]
    keys = {
        "spontaneous_rethink_frac": "spontaneous rethinking",
        "spontaneous_wrong_to_right": "own rethinks wrong->right",
        "spontaneous_right_to_wrong": "own rethinks right->wrong",
        "acc_before": "held-out acc",
        "acc_after": "after test-time forcing",
        "wrong_to_right": "forced wrong->right",
        "right_to_wrong": "forced right->wrong",
    }
    lines += [
        "Greedy answers on the held-out items:",
        "",
        "| model | " + " | ".join(keys.values()) + " | forcing fixes, of wrong | forcing breaks, of right |"
        " accepted rethinks / step |",
        "|---" * (len(keys) + 4) + "|",
    ]
    for name in names:
        probes = [runs[name][s]["probe"] for s in seeds]
        fixes = [share_of(p["wrong_to_right"], 1 - p["acc_before"]) for p in probes]
        breaks = [share_of(p["right_to_wrong"], p["acc_before"]) for p in probes]
        result["variants"][name] = {key: [p[key] for p in probes] for key in keys} | {"fixes": fixes, "breaks": breaks}
        cells = [format_ci([p[key] for p in probes]) for key in keys] + [format_ci(fixes), format_ci(breaks)]
        accepted = "—"
        if name != "start":
            per_seed = [
                statistics.fmean(values(runs[name][s]["rethink"].get("rethink/accepted", [[0, 0.0]]))) for s in seeds
            ]
            result["variants"][name]["accepted"] = per_seed
            accepted = format_ci(per_seed, 2)
        lines.append(f"| {model_label(name)} | " + " | ".join(cells) + f" | {accepted} |")
    lines += ["", "Test-time forcing's flips by how far the re-check moved the answer (final - first, all seeds):", ""]
    for name in names:
        shifts = merged_shifts([runs[name][s]["probe"].get("forced_flip_shifts", {}) for s in seeds])
        result["variants"][name]["forced_flip_shifts"] = shifts
        lines.append(f"- {model_label(name)}: " + "; ".join(f"{kind} {describe(c)}" for kind, c in shifts.items()))
    sampled_keys = {
        "spontaneous_rethink_frac": "spontaneous rethinking",
        "spontaneous_wrong_to_right": "own rethinks wrong->right",
        "spontaneous_right_to_wrong": "own rethinks right->wrong",
        "acc": "accuracy",
    }
    lines += [
        "",
        "Sampled at temperature 1 (4 responses per held-out item), shares of all responses:",
        "",
        "| model | " + " | ".join(sampled_keys.values()) + " |",
        "|---" * (len(sampled_keys) + 1) + "|",
    ]
    for name in names:
        sampled = [runs[name][s]["sampled"] for s in seeds if "sampled" in runs[name][s]]
        if len(sampled) < len(seeds):
            continue
        result["variants"][name]["sampled"] = {key: [row[key] for row in sampled] for key in sampled_keys}
        cells = [format_ci([row[key] for row in sampled]) for key in sampled_keys]
        lines.append(f"| {model_label(name)} | " + " | ".join(cells) + " |")
    lines += ["", *net_fix_lines(result["variants"])]
    if all("sampled" in result["variants"][name] for name in VARIANTS):
        forced, plain = (result["variants"][name] for name in VARIANTS)
        rates = [variant["sampled"]["spontaneous_rethink_frac"] for variant in (forced, plain)]
        result["net_fixes_forced_minus_plain"] = paired_differences(own_net_fixes(forced), own_net_fixes(plain))
        lines += [
            "",
            f"Spontaneous rethinking, forced minus plain (paired by seed): {format_ci(paired_differences(*rates))}.",
            "Net fixes of own sampled rethinks, forced minus plain (paired by seed): "
            f"{format_ci(result['net_fixes_forced_minus_plain'])}.",
        ]
    return result, lines


def figures(out: Path) -> list[str]:
    """Write the figures that the finished pieces allow; their file names."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    sft, rl = load(out / "f1", "sft-seed*.json"), load(out / "f1", "rl-seed*.json")
    if sft:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for seed, run in sft.items():
            steps, accs = zip(*run["curve"], strict=True)
            (line,) = ax.plot(steps, accs, label=f"SFT seed {seed}")
            if seed in rl:
                rl_steps, rl_accs = zip(*rl[seed]["eval"], strict=True)
                ax.plot(
                    [steps[-1] + s for s in rl_steps], rl_accs, "--", color=line.get_color(), label=f"RL seed {seed}"
                )
        ax.axvline(max(run["curve"][-1][0] for run in sft.values()), color="grey", lw=0.8)
        ax.set(xlabel="step (SFT, then GRPO)", ylabel="held-out accuracy (greedy)", title="RL beyond the SFT plateau")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "finding1_sft_plateau_then_rl.png", dpi=120)
        written.append("finding1_sft_plateau_then_rl.png")
    replay = {mode: load(out / "f2", f"{mode}-seed*.json") for mode in REPLAY_MODES}
    if rl and all(replay.values()):
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
        for seed, run in rl.items():
            shares = values(run["groups_effective"])
            window = max(1, len(shares) // 10)
            smooth = [statistics.fmean(shares[max(0, i - window + 1) : i + 1]) for i in range(len(shares))]
            left.plot(range(1, len(shares) + 1), smooth, label=f"seed {seed}")
        left.set(xlabel="update (plain GRPO)", ylabel="share of effective groups (running mean)")
        left.set_title("Vanishing advantages", fontsize=10)
        left.legend(fontsize=7)
        for mode, runs in replay.items():
            budget = {
                s: min(replay[m][s]["rollout_samples"][-1][1] for m in REPLAY_MODES if s in replay[m]) for s in runs
            }
            centre, half = mean_ci95([at_budget(run, budget[s]) for s, run in runs.items()])
            right.errorbar([mode], [centre], yerr=[0.0 if half != half else half], fmt="o", capsize=4)
        right.set(ylabel="held-out accuracy, equal rollouts (95% CI)")
        right.set_title("Replay modes", fontsize=10)
        fig.tight_layout()
        fig.savefig(out / "finding2_effective_groups_and_accuracy.png", dpi=120)
        written.append("finding2_effective_groups_and_accuracy.png")
    rethink = {name: load(out / "f3", f"{name}-seed*.json") for name in ("start", *VARIANTS)}
    if not rethink["start"]:
        del rethink["start"]
    if all(rethink.values()) and all("sampled" in run for runs in rethink.values() for run in runs.values()):
        keys = ("spontaneous_rethink_frac", "spontaneous_wrong_to_right", "spontaneous_right_to_wrong", "acc")
        width = 0.8 / len(rethink)
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for offset, (name, runs) in enumerate(rethink.items()):
            stats = [mean_ci95([run["sampled"][key] for run in runs.values()]) for key in keys]
            xs = [i + width * offset for i in range(len(keys))]
            errors = [0 if h != h else h for _, h in stats]
            ax.bar(xs, [m for m, _ in stats], width, yerr=errors, capsize=3, label=model_label(name))
        ax.set_xticks(
            [i + width * (len(rethink) - 1) / 2 for i in range(len(keys))],
            ["spontaneous\nrethinking", "own rethink\nwrong->right", "own rethink\nright->wrong", "accuracy"],
            fontsize=7,
        )
        ax.set(title="Supervised start; stage 2 with / without forced rethinking (sampled, 95% CI)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "finding3_rethinking.png", dpi=120)
        written.append("finding3_rethinking.png")
    return written


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    sections = {}
    lines = ["# Paper effects on the tiny model", ""]
    for number, (title, build) in enumerate(
        [
            ("RL beyond the supervised plateau", finding1),
            ("Vanishing advantages and replay modes", finding2),
            ("Forced rethinking in stage 2", finding3),
        ],
        start=1,
    ):
        result, table = build(out)
        sections[f"finding{number}"] = result
        lines += [f"## Finding {number}: {title}", "", *table, ""]
    for name in figures(out):
        lines.append(f"![{name}]({name})")
    (out / "summary.json").write_text(json.dumps(sections, indent=2))
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
