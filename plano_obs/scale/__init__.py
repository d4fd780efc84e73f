"""Past one machine (docs/scale-out.md): the parts of the local scale-out run."""
