"""A council beside its comparators: the comparison, its groups, figures, rates and intervals."""
