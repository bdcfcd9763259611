"""The degradation model: the forward operators ``A``, synthetic noise, and regularisers."""
