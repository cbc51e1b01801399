"""Float32 training of the shipped networks in NumPy (layers, model, optim, data, recipe, checkpoint)."""
