"""Reports on training runs (plots, Markdown and JSON summaries) and on the difficulty of a data set."""
