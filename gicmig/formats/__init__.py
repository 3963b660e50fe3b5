"""gicmig's own file formats: the blob envelope and codec, the JSON fixture, files."""
