"""The register of establishments as GIAS (Get Information About Schools) publishes it: read and checked, held, asked
what a URN or UKPRN is, and the column of DfE's EHC plan tables each type of establishment is counted in."""
