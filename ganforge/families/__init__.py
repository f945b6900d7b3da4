"""GAN families: one file each, registered by name. A family says which networks it has, which objective
they play, and the phases of one training step; the one loop in ganforge.train runs them."""
from .base import Batch, Family, Phase, Signals, available_families, draw_latents, get_family, register_family  # noqa: F401
from . import acgan, bigan, cgan, cyclegan, gan, pix2pix, srgan, ssgan, text2image, vae, wgan  # noqa: E402,F401  (registration)
