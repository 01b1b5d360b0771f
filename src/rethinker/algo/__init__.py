"""The RL math: advantages, losses, KL estimators and sample replay, as pure functions."""
