"""SDMX: the structures and messages every SDMX door shares, its REST messages and what it reads."""
