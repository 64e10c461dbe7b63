"""Features: the per-level contract of a model, feature sources (shipped models, baselines,
a researcher's own encoder) and the content-keyed feature cache."""
