"""Offline evaluation on public benchmarks with their official scoring rules."""
