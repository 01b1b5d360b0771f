"""Examples, loaders for on-disk formats, and the built-in synthetic visual tasks."""
