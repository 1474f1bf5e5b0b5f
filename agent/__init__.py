"""moss-agent: tool-augmented chat in the MOSS plugin format."""
