"""Training loops (GRPO, SFT), schedules and checkpoints."""
