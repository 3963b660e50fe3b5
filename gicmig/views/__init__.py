"""Outside views of the GIC state: each module converts to and from canonical state."""
