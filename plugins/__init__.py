"""Built-in plugins; each module registers through the ``lossybench`` entry-point group."""
