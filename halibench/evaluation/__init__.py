"""Evaluation: protocols, the benchmark runner, the classification and attribute tasks,
metrics, the outcome cache, regression of reproduced numbers and per-level semantics."""
