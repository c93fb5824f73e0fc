"""Named presets: the best settings ``sparkgan benchmark modes`` found per benchmark.

A preset is a list of ``key=value`` overrides applied before the user's own,
so ``sparkgan train --preset grid train.seed=3`` works as expected.
"""

from __future__ import annotations

from dataclasses import dataclass

from sparkgan.config import ConfigError


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    overrides: tuple[str, ...]


# ring and grid share one recipe. In trials on grid, batch 512 and R1 raised the high-quality fraction most.
# Collapse checks start at step 5000 because earlier checks read still-forming modes as collapse.
POINTS_RECIPE = "packed MLP discriminator with minibatch std, R1, batch 512, learning-rate decay"
POINTS_OVERRIDES: tuple[str, ...] = (
    "train.steps=8000",
    "train.batch_size=512",
    "train.lr_decay=0.5",
    "model.width=256",
    "remedies.pack=2",
    "remedies.minibatch_std=4",
    "loss.r1_gamma=0.1",
    "loss.r1_interval=4",
    "train.ema_kimg=20",
    "collapse.start=5000",
    "collapse.every=1000",
)

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "digits",
            "the default digits job: DCGAN width 48, non-saturating loss, EMA",
            ("data.name=digits",),
        ),
        *(
            Preset(name, f"{description}: {POINTS_RECIPE}", (f"data.name={name}", *POINTS_OVERRIDES))
            for name, description in (("ring", "8-mode ring"), ("grid", "25-mode grid"))
        ),
        Preset(
            "stacked-digits",
            "1,000-mode stacked digits: packed DCGAN discriminator with minibatch std",
            (
                "data.name=stacked-digits",
                "train.steps=12000",
                "remedies.pack=2",
                "remedies.minibatch_std=4",
                "collapse.start=5000",
            ),
        ),
        Preset(
            "stacked-digits-4",
            "10,000-mode stacked digits: packed DCGAN discriminator with minibatch std",
            (
                "data.name=stacked-digits-4",
                "train.steps=12000",
                "remedies.pack=2",
                "remedies.minibatch_std=4",
                "collapse.start=5000",
            ),
        ),
    )
}


def preset_overrides(name: str | None) -> tuple[str, ...]:
    """Return a preset's overrides (none for ``None``).

    Raises:
        ConfigError: for an unknown preset name, listing the known ones.
    """
    if name is None:
        return ()
    try:
        return PRESETS[name].overrides
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)} (see sparkgan presets)") from None
