"""The SDMX REST 2.1 door: dataflows, structures, code lists and released data for statistical clients."""
