"""A region's pooled outputs, built when asked from its consenting councils' newest accepted records (nothing built
is kept): the child-level tables of each use case, each column as ``mappings/regions/use_cases.toml`` says, every
child under the region's cross-council key; placements across boundaries; the region's figures from the records."""
