"""rethinker: teach vision-language models to think slowly with reinforcement learning."""

__version__ = "0.1.0"
