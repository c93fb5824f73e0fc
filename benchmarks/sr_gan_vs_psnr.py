"""Compare a PSNR-stage and a GAN-stage model on the held-out photos.

For each model it prints PSNR and SSIM (Y channel, border = scale) and a
sharpness ratio: the mean absolute Laplacian of the output's luma divided by
that of the original, inside the border. Bicubic upscaling is blurry and
scores well below 1; a ratio closer to 1 means detail closer to the
original's. It also writes the side-by-side figure of the most detailed crops.

    python benchmarks/sr_gan_vs_psnr.py PSNR_MODEL GAN_MODEL [--figure FILE.png] [--alpha 0.5]

With ``--alpha`` it also scores the blend of the two models.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import laplace

from sparkgan.metrics.image_quality import rgb_to_y
from sparkgan.sr.data import PHOTOS_HELD_OUT, photos
from sparkgan.sr.evaluate import bicubic_baseline, evaluate_model, low_resolution_input
from sparkgan.sr.figures import side_by_side
from sparkgan.sr.model_io import blend_models, load_model
from sparkgan.sr.resize import quantize
from sparkgan.sr.upscale import TileSettings, upscale_rgb
from sparkgan.viz import save_png


def sharpness(image: np.ndarray, border: int) -> float:
    y = rgb_to_y(image)[border:-border, border:-border]
    return float(np.abs(laplace(y)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("psnr_model")
    parser.add_argument("gan_model")
    parser.add_argument("--figure", help="write the side-by-side figure to this PNG file")
    parser.add_argument("--alpha", type=float, help="also score the blend (1 - alpha) * PSNR + alpha * GAN")
    args = parser.parse_args()
    torch.set_num_threads(2)

    with tempfile.TemporaryDirectory() as tmp:
        models = {"psnr stage": load_model(args.psnr_model), "gan stage": load_model(args.gan_model)}
        if args.alpha is not None:
            blended = blend_models(args.psnr_model, args.gan_model, args.alpha, Path(tmp) / "blend.safetensors")
            models[f"blend {args.alpha:g}"] = load_model(blended)
        scale = models["psnr stage"].scale
        images = photos(PHOTOS_HELD_OUT, scale)

        bicubic_ratios = []
        for image in images:
            lr, bits = low_resolution_input(image, scale)
            bicubic_ratios.append(sharpness(bicubic_baseline(lr, scale, bits), scale) / sharpness(image.hr_float(), scale))
        print(f"{'bicubic':<12} sharpness ratio {np.mean(bicubic_ratios):.3f}")

        psnr_of = {}
        for label, model in models.items():
            evaluation = evaluate_model(model, images, channel="y", border=scale)
            ratios = []
            for image in images:
                lr, bits = low_resolution_input(image, scale)
                output = quantize(torch.from_numpy(upscale_rgb(model, lr, TileSettings(), progress=False)), bits)
                ratios.append(sharpness(output.numpy(), scale) / sharpness(image.hr_float(), scale))
            psnr_of[label] = evaluation.mean("psnr_model")
            print(f"{label:<12} PSNR {evaluation.mean('psnr_model'):.2f} dB (gain {evaluation.mean('psnr_gain'):+.2f}), "
                  f"SSIM {evaluation.mean('ssim_model'):.4f}, sharpness ratio {np.mean(ratios):.3f}")
        print(f"GAN stage PSNR below the PSNR stage: {psnr_of['psnr stage'] - psnr_of['gan stage']:.2f} dB")
        if args.figure:
            save_png(side_by_side(models, images, tile=256, crop=48), args.figure)
            print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
