"""The services of ``tdm serve``: one module per resource, each a few calls into tdm's core."""
