"""Training-set selection by pass rate: an interval rule, then optional balancing by difficulty bucket or category."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from rethinker.data.schema import Example
from rethinker.data.selection import balance, metadata_value, parse_interval, pass_rate_bucket, select_by_interval

DIFFICULTY = "difficulty"
"""The `balance_by` value that balances by difficulty bucket of the pass rate instead of a metadata field."""


def balance_key(by: str, column: str) -> Callable[[Example], Hashable | None]:
    """The bucket of an example: its pass-rate difficulty for `by="difficulty"`, else its `metadata[by]`."""
    return pass_rate_bucket(column) if by == DIFFICULTY else metadata_value(by)


def select_training_set(
    examples: Sequence[Example],
    column: str,
    interval: str,
    balance_by: str | None = None,
    per_bucket: int = 0,
    seed: int = 0,
) -> tuple[list[Example], dict[str, float]]:
    """Keep examples whose `column` lies in `interval`, then at most `per_bucket` per bucket of `balance_by`.

    Returns the selection and the counts each rule kept and dropped, as `data/selection_*` and `data/balance_*`
    metrics (the trainer logs them at step 0).
    """
    kept, counts = select_by_interval(examples, column, parse_interval(interval))
    metrics = {f"data/selection_{key}": float(value) for key, value in counts.items()}
    if balance_by is None:
        return kept, metrics
    balanced, per_key = balance(kept, balance_key(balance_by, column), per_bucket, seed)
    metrics.update({f"data/balance_{key}": float(value) for key, value in per_key.items()})
    metrics["data/balance_dropped"] = float(len(kept) - len(balanced))
    return balanced, metrics
