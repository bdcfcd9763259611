"""What an image tells before a run: its noise level σ̂, texture features, the width predictor."""
