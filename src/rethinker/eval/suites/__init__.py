"""One module per benchmark: loading its files and scoring with its official rules."""
