"""Data curation: annotate training data with a model's pass rates, and select by them."""
