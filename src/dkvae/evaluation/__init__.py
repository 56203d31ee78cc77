"""Evaluation of a trained model: reconstruction and generation metrics against real-data ceilings and a noise floor, and the report."""
