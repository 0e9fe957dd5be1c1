"""The school census a council already holds (its schools' returns to DfE's COLLECT, exported as one blade CSV a
module, or the service's own slim template, or GIAP's downloads): read, checked against its year's and term's schema,
minimised to the pupils the council needs, and kept sealed as every child-level record is."""
