"""Model-family plugins: one module per family."""
