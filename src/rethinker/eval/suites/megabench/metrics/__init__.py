"""MEGA-Bench rule-based metrics, one family per module; `table` maps the official metric names to them."""
