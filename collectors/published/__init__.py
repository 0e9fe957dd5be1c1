"""Published figures: the figures a public body publishes, read from its own files and API and stored as its own."""
