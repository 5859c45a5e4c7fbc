"""Deep patch-wise colorization of grayscale images, built on the vcnn engine."""
