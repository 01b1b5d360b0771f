"""Answer extraction, bounded verification, format rewards and the reward registry."""
