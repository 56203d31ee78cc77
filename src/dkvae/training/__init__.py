"""Training with Lightning: the modules and data, run options and logs, adversarial training and distillation."""
