"""GAN super-resolution: train, measure and upscale (SRResNet / ESRGAN style).

The command line is ``sparkgan sr train | blend | evaluate | upscale``; each
command calls a function of this package, so tests and notebooks can do the
same. Spark support (table upscaling, the ``SuperResolver`` transformer) is in
:mod:`sparkgan.spark.sr`.
"""
