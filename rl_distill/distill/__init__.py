"""Policy distillation: the collection + training loop, its buffer and its checkpoints."""
