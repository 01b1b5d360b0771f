"""Cold-start input from the built-in synthetic tasks: one VQA JSONL line per item, its image as a PNG beside it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from rethinker.data.synthetic import make_synthetic


def write_synthetic_vqa(folder: Path, size: int, seed: int, families: Sequence[str] = ("count",)) -> Path:
    """Write `size` training items as `folder/vqa.jsonl` (`id`, `image`, `question`, `answer`) plus their images."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    lines = []
    for example in make_synthetic(size, seed=seed, split="train", families=families):
        name = f"images/{example.id}.png"
        example.images[0].save(folder / name)
        lines.append({"id": example.id, "image": name, "question": example.question, "answer": example.answer})
    path = folder / "vqa.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """`python -m rethinker.coldstart.synthetic_vqa OUT_DIR [--size N] [--seed S] [--families a,b]`."""
    parser = argparse.ArgumentParser(prog="python -m rethinker.coldstart.synthetic_vqa", description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", default="count", help="comma-separated synthetic task families")
    args = parser.parse_args(argv)
    print(write_synthetic_vqa(args.out_dir, args.size, args.seed, args.families.split(",")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
