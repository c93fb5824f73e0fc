"""sparkgan: GAN training that resists mode collapse, on a laptop or as a Spark program."""

__version__ = "0.1.0"
