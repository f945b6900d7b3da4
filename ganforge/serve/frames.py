"""PNG pictures the pages show: the live view's frame (matplotlib, drawn on the server with the Agg backend, so the
page needs no chart script) and grids of samples (ganforge.images)."""
from __future__ import annotations

import io
import textwrap

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from PIL import Image

from .live import Snapshot


def png(image: np.ndarray, scale: int = 1) -> bytes:
    """A uint8 (H, W, C) image as PNG bytes, upscaled `scale` times (nearest) so small tiles are legible."""
    img = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def live_frame(snap: Snapshot, size_px: int = 560) -> bytes:
    """One frame of the live view: D's scores as a heat map under the real points (grey), the generated ones
    (blue; one colour per generator of a mixture; orange: the trained G when blue is its EMA), G's image of a grid
    of z (lines: where G sends each row and column of the grid) and arrows along D's gradient at G's points
    (unit length: the way G's step moves them)."""
    fig = Figure(figsize=(size_px / 100, size_px / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.88))
    lim = snap.limit
    s = snap.surface
    centre = snap.boundary if snap.boundary is not None else float(np.median(s))
    span = max(float(np.abs(s - centre).max()), 1e-6)
    ax.imshow(s, origin="lower", extent=(-lim, lim, -lim, lim), cmap="RdBu_r", alpha=0.55,
              norm=TwoSlopeNorm(centre, centre - span, centre + span), interpolation="bilinear")
    g = snap.z_grid
    for k in range(g.shape[0]):  # G's image of each row and each column of the z grid
        ax.plot(g[k, :, 0], g[k, :, 1], color="#2a6b2a", lw=0.6, alpha=0.7)
        ax.plot(g[:, k, 0], g[:, k, 1], color="#2a6b2a", lw=0.6, alpha=0.7)
    ax.scatter(snap.real[:, 0], snap.real[:, 1], s=4, c="#555555", alpha=0.5, linewidths=0, label="data")
    if snap.trained is not None:
        ax.scatter(snap.trained[:, 0], snap.trained[:, 1], s=4, c="#e08a1e", alpha=0.5, linewidths=0,
                   label="G(z), trained")
    name = "G(z), EMA" if snap.trained is not None else "G(z)"
    if snap.which is None:
        ax.scatter(snap.fake[:, 0], snap.fake[:, 1], s=5, c="#1f3fbf", alpha=0.8, linewidths=0, label=name)
    else:  # a mixture: one colour per generator
        ax.scatter(snap.fake[:, 0], snap.fake[:, 1], s=5, c=snap.which, cmap="tab10", vmin=0, vmax=9, alpha=0.8,
                   linewidths=0, label=f"{name}, {int(snap.which.max()) + 1} generators")
    length = np.linalg.norm(snap.arrows, axis=1, keepdims=True)
    ax.quiver(snap.arrows_at[:, 0], snap.arrows_at[:, 1], *(snap.arrows / np.maximum(length, 1e-12)).T,
              color="#333333", alpha=0.6, angles="xy", scale_units="xy", scale=8 / lim, width=0.002,
              label="∇ D at G's points")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="upper right", fontsize=8, markerscale=3)
    losses = "\n".join(textwrap.wrap("  ".join(f"{k}={v:.3g}" for k, v in snap.losses.items()), 90))
    fig.suptitle(f"step {snap.step}\n{losses}", fontsize=8, y=0.995)
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
