"""Task plugins: one module per task."""
