"""Training: the adversarial step and trainer, its data, health probes, resume rules and
multi-process launch."""
